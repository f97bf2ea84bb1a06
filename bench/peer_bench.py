#!/usr/bin/env python3
"""blockattn against Hugging Face transformers on the same checkpoint and the same tokens.

Run on the GPU machine after `bench_prefill --sweep ... --json ours.json` (it writes our figures
and the token ids; scripts/device/gpu_peer_bench.sh runs both):

    python3 bench/peer_bench.py --model DIR --ours ours.json --out DIR

For every context length of the sweep it measures, in transformers (bf16, sdpa attention):
  full    one forward over all tokens (the prompt's time to first token without caching; like
          ours, logits of the last position only)
  cold    the Block-Attention recipe: each block encoded alone at positions 0..n-1, its keys
          re-rotated to the block's offset, the caches concatenated, then the final block
  warm    the same with the blocks' caches already computed (re-rotation, concatenation and
          the final block only)
  decode  greedy tokens/s of generate() over the full-attention context
and prints them beside ours as ratios (transformers / blockattn: > 1 means we are faster).
Writes peer.csv, peer.json and, where matplotlib exists, ttft_vs_context.png to --out
(bench/plot_peer.py makes the PNG from peer.csv elsewhere).
"""
import argparse
import csv
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, DynamicCache


def timed(fn, runs):
    """Median wall time of fn() in ms, device-synchronized, after one warm-up call."""
    fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(runs):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def layer_kv(cache, layer):
    """(keys, values) of one layer of a transformers cache, [1, n_kv, T, hd] each."""
    if hasattr(cache, "layers"):  # transformers >= 4.56
        return cache.layers[layer].keys, cache.layers[layer].values
    return cache.key_cache[layer], cache.value_cache[layer]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class BlockRecipe:
    """Block-Attention as the paper's reference code does it in transformers."""

    def __init__(self, model):
        self.model = model
        self.n_layer = model.config.num_hidden_layers

    @torch.no_grad()
    def encode(self, block_ids):
        out = self.model(block_ids, use_cache=True)
        return [layer_kv(out.past_key_values, l) for l in range(self.n_layer)]

    @torch.no_grad()
    def assemble_and_answer(self, encoded, final_ids):
        offsets, at = [], 0
        for kv in encoded:
            offsets.append(at)
            at += kv[0][0].shape[2]
        cache = DynamicCache()
        rotary = self.model.model.rotary_emb
        probe = encoded[0][0][0]
        # cos/sin of each block's offset: RoPE by `offset` moves keys from local positions.
        pos = torch.tensor([offsets], device=probe.device)
        cos, sin = rotary(probe, pos)  # [1, n_blocks, hd]
        for layer in range(self.n_layer):
            keys = []
            for b, kv in enumerate(encoded):
                k = kv[layer][0]
                c = cos[:, b].to(k.dtype)[:, None, None, :]
                s = sin[:, b].to(k.dtype)[:, None, None, :]
                keys.append(k * c + rotate_half(k) * s)
            values = [kv[layer][1] for kv in encoded]
            cache.update(torch.cat(keys, 2), torch.cat(values, 2), layer)
        positions = torch.arange(at, at + final_ids.shape[1], device=final_ids.device)[None]
        out = self.model(final_ids, past_key_values=cache, position_ids=positions, use_cache=True,
                         logits_to_keep=1)
        return out.logits[:, -1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ours", required=True, help="bench_prefill --sweep ... --json output")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--decode-tokens", type=int, default=32)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ours = json.load(open(args.ours))
    dev = "cuda"
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype=torch.bfloat16, attn_implementation="sdpa", device_map=dev)
    model.eval()
    print(f"transformers: loaded {args.model} in {time.perf_counter() - t0:.1f} s", flush=True)
    recipe = BlockRecipe(model)
    all_blocks = [torch.tensor([ids], device=dev) for ids in ours["block_ids"]]
    final_ids = torch.tensor([ours["query_ids"]], device=dev)
    rows = []
    header = (f"{'tokens':>7} | {'full ms':>17} {'ratio':>5} | {'cold ms':>17} {'ratio':>5} | "
              f"{'warm ms':>17} {'ratio':>6} | {'decode tok/s':>13} {'ratio':>5}")
    print("each cell: transformers / blockattn; ratio = transformers time / ours "
          "(decode: ours / theirs)")
    print(header)
    for point in ours["points"]:
        n = point["blocks"]
        blocks = all_blocks[:n]
        prompt = torch.cat(blocks + [final_ids], 1)
        with torch.no_grad():
            full = timed(lambda: model(prompt, use_cache=True, logits_to_keep=1), args.repeats)
            cold = timed(lambda: recipe.assemble_and_answer([recipe.encode(b) for b in blocks],
                                                            final_ids), max(1, args.repeats // 2))
            encoded = [recipe.encode(b) for b in blocks]
            warm = timed(lambda: recipe.assemble_and_answer(encoded, final_ids), args.repeats)
            del encoded
            k = args.decode_tokens
            gen = lambda m: model.generate(prompt, max_new_tokens=m, min_new_tokens=m,
                                           do_sample=False)
            t_one = timed(lambda: gen(1), 1)
            t_many = timed(lambda: gen(k + 1), 1)
            decode = k / ((t_many - t_one) / 1e3)
        torch.cuda.empty_cache()
        row = {"blocks": n, "tokens": point["tokens"],
               "hf_full_ms": full, "ours_full_ms": point["full_ms"],
               "hf_cold_ms": cold, "ours_cold_ms": point["cold_ms"],
               "hf_warm_ms": warm, "ours_warm_ms": point["warm_ms"],
               "hf_decode_tokens_per_s": decode,
               "ours_decode_tokens_per_s": point["decode_tokens_per_s"]}
        rows.append(row)
        print(f"{point['tokens']:>7} | {full:>8.1f}/{point['full_ms']:>8.1f} "
              f"{full / point['full_ms']:>5.2f} | {cold:>8.1f}/{point['cold_ms']:>8.1f} "
              f"{cold / point['cold_ms']:>5.2f} | {warm:>8.1f}/{point['warm_ms']:>8.1f} "
              f"{warm / point['warm_ms']:>6.1f} | {decode:>6.1f}/{point['decode_tokens_per_s']:>6.1f} "
              f"{point['decode_tokens_per_s'] / decode:>5.2f}", flush=True)
    with open(os.path.join(args.out, "peer.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    json.dump(rows, open(os.path.join(args.out, "peer.json"), "w"), indent=1)
    try:
        import plot_peer  # beside this script
        plot_peer.plot(os.path.join(args.out, "peer.csv"),
                       os.path.join(args.out, "ttft_vs_context.png"))
    except ImportError as e:
        print(f"no PNG here ({e}); run bench/plot_peer.py on peer.csv elsewhere")


if __name__ == "__main__":
    main()
