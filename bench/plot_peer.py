#!/usr/bin/env python3
"""Time to first token against context length, blockattn vs transformers, from peer.csv
(bench/peer_bench.py):  python3 bench/plot_peer.py peer.csv ttft_vs_context.png
Needs matplotlib (Debian: python3-matplotlib)."""
import csv
import sys


def plot(csv_path, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(csv_path)))
    tokens = [int(r["tokens"]) for r in rows]
    series = [
        ("hf_full_ms", "transformers, full attention (sdpa)", "tab:gray", "-"),
        ("hf_cold_ms", "transformers, Block-Attention recipe, cold", "tab:orange", "--"),
        ("hf_warm_ms", "transformers, Block-Attention recipe, warm", "tab:orange", ":"),
        ("ours_full_ms", "blockattn, full attention", "tab:blue", "-"),
        ("ours_cold_ms", "blockattn, block attention, cold", "tab:blue", "--"),
        ("ours_warm_ms", "blockattn, block attention, warm (memory tier)", "tab:blue", ":"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, color, style in series:
        ax.plot(tokens, [float(r[key]) for r in rows], style, color=color, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(tokens)
    ax.set_xticklabels([f"{t / 1000:.0f}K" for t in tokens])
    ax.set_xlabel("prompt tokens (blocks of 500 tokens + a 24-token question)")
    ax.set_ylabel("time to first token, ms")
    ax.set_title("Llama-3-8B shape, bf16, one H200")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plot(sys.argv[1], sys.argv[2])
