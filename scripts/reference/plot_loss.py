#!/usr/bin/env python3
"""Loss curve PNG from a `blockattn pretrain` OUT/metrics.jsonl (needs python3-matplotlib).

usage: plot_loss.py metrics.jsonl out.png [--title TEXT]
Training loss per logged step, validation loss (mixture mean and per source) per evaluation;
for steps logged twice (a resumed run), the last line wins.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics")
    ap.add_argument("out")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    train, val = {}, {}
    for line in open(a.metrics, encoding="utf-8"):
        if not line.strip():
            continue
        j = json.loads(line)
        (val if "val_loss" in j else train)[j["step"]] = j
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    steps = sorted(train)
    ax.plot(steps, [train[s]["loss"] for s in steps], lw=1, color="#888", label="train")
    vsteps = sorted(val)
    ax.plot(vsteps, [val[s]["val_loss"] for s in vsteps], "o-", color="black", ms=3, label="validation (mix)")
    sources = sorted({k for s in vsteps for k in val[s].get("val", {})})
    if len(sources) > 1:
        for name in sources:
            ax.plot(vsteps, [val[s]["val"].get(name) for s in vsteps], "--", lw=1, label=f"validation: {name}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_ylim(top=min(8, ax.get_ylim()[1]))
    ax.grid(alpha=0.3)
    ax.legend()
    if a.title:
        ax.set_title(a.title)
    fig.tight_layout()
    fig.savefig(a.out)


if __name__ == "__main__":
    main()
