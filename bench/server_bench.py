#!/usr/bin/env python3
"""Benchmarks a running `blockattn serve` through its HTTP API (standard library only).

  python3 bench/server_bench.py --url http://127.0.0.1:18080 --blocks 64 --block-tokens 500

Prints, for a context of --blocks blocks of about --block-tokens tokens each:
  * time to first token (client-side, streamed) of the first request (every block computed),
    and of a request with other blocks once the server is warmed up,
    of the same request again (blocks from the memory tier), of the blocks in another order,
    and of a full-attention request over the same tokens; with the server's own ttft_ms;
  * server overhead: client-observed TTFT minus the engine's ttft_ms, p50/p90 over --overhead-n
    small warm requests;
  * total decode tokens/s at 1, 4 and 16 concurrent streams (--streams), each generating
    --decode-tokens tokens (ignore_eos) over its own ~--decode-context-token prompt.
"""
import argparse
import json
import random
import statistics
import threading
import time
import urllib.request


def post(url, body, stream=False, timeout=600):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=timeout)


def stream_chat(base, body):
    """Streams a chat request; returns (client ttft ms, total ms, text, blockattn report)."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    t0 = time.perf_counter()
    ttft = None
    text = []
    report = None
    with post(base + "/v1/chat/completions", body) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise RuntimeError(chunk["error"])
            for c in chunk.get("choices", []):
                piece = c.get("delta", {}).get("content")
                if piece and ttft is None:
                    ttft = (time.perf_counter() - t0) * 1000
                if piece:
                    text.append(piece)
            if "blockattn" in chunk:
                report = chunk["blockattn"]
    total = (time.perf_counter() - t0) * 1000
    return (ttft if ttft is not None else total), total, "".join(text), report


WORDS = ("archive river lantern copper meadow signal harbor quartz violet engine summit cedar "
         "orbit pepper canyon marble falcon ember willow tundra glacier beacon saddle prairie").split()


def make_text(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


def calibrate_words(base, rng, tokens):
    """Words per block so that a block has about `tokens` tokens with the server's tokenizer."""
    sample = make_text(rng, 400)
    with post(base + "/tokenize", {"content": sample}) as r:
        n = len(json.loads(r.read())["tokens"])
    return max(1, int(tokens * 400 / max(1, n)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:18080")
    ap.add_argument("--blocks", type=int, default=64)
    ap.add_argument("--block-tokens", type=int, default=500)
    ap.add_argument("--overhead-n", type=int, default=30)
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--decode-context-tokens", type=int, default=1000)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    rng = random.Random(1)
    words = calibrate_words(base, rng, args.block_tokens)
    blocks = [{"text": f"Document {i}. " + make_text(rng, words)} for i in range(args.blocks)]
    # Other blocks of the same sizes: a cold request once the server has seen these shapes (the
    # first request also pays one-time costs: kernel selection, CUDA graph capture).
    fresh = [{"text": f"Report {i}. " + make_text(rng, words)} for i in range(args.blocks)]
    question = [{"role": "user", "content": "Which document mentions the copper lantern first?"}]
    req = {"messages": question, "blocks": blocks, "max_tokens": 1, "ignore_eos": True}

    print(f"context: {args.blocks} blocks of ~{args.block_tokens} tokens ({words} words each)")
    rows = []
    for name, body in [
        ("first request (blocks computed)", req),
        ("same blocks again (memory tier)", req),
        ("same blocks, reversed order", dict(req, blocks=list(reversed(blocks)))),
        ("full attention, same tokens", dict(req, attention="full")),
        ("new blocks (computed, server warmed up)", dict(req, blocks=fresh)),
        ("full attention, new blocks", dict(req, blocks=fresh, attention="full")),
    ]:
        ttft, total, _, rep = stream_chat(base, body)
        reused = sum(1 for b in rep["blocks"] if b["reused"]) if rep else -1
        rows.append((name, ttft, rep["ttft_ms"] if rep else float("nan"), rep["prompt_tokens"] if rep else 0, reused))
    print(f"{'request':38s} {'client TTFT ms':>15s} {'engine ttft_ms':>15s} {'prompt tokens':>14s} {'reused':>7s}")
    for name, ttft, eng, pt, reused in rows:
        print(f"{name:38s} {ttft:15.1f} {eng:15.1f} {pt:14d} {reused:7d}")
    cold, warm, full = rows[0][1], rows[1][1], rows[3][1]
    print(f"warm / cold = {warm / cold:.4f}; warm / full = {warm / full:.4f}; cold / full = {cold / full:.3f}")
    print(f"warmed-up server: new blocks / full attention of them = {rows[4][1] / rows[5][1]:.3f}")

    # Server overhead: small warm requests, client TTFT - engine ttft.
    small = {"messages": question, "blocks": blocks[:2], "max_tokens": 1, "ignore_eos": True}
    stream_chat(base, small)
    over = []
    for _ in range(args.overhead_n):
        ttft, _, _, rep = stream_chat(base, small)
        over.append(ttft - rep["ttft_ms"])
    over.sort()
    p50 = statistics.median(over)
    p90 = over[int(0.9 * (len(over) - 1))]
    print(f"server overhead (client TTFT - engine ttft_ms, {args.overhead_n} warm requests): p50 {p50:.2f} ms, p90 {p90:.2f} ms")

    # Decode throughput at several concurrencies.
    dwords = calibrate_words(base, rng, args.decode_context_tokens)
    base_rate = None
    for n in [int(x) for x in args.streams.split(",")]:
        bodies = [{"messages": [{"role": "user", "content": f"Stream {i}. " + make_text(rng, dwords)}],
                   "max_tokens": args.decode_tokens, "ignore_eos": True} for i in range(n)]
        results = [None] * n

        def worker(i):
            results[i] = stream_chat(base, bodies[i])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        # Decode rate: tokens after the first, over the time from the last first token to the end.
        tokens = sum(args.decode_tokens for _ in range(n))
        per_stream = [r[3]["decode_tokens_per_s"] for r in results]
        rate = tokens / wall
        if base_rate is None:
            base_rate = rate
        print(f"{n:3d} streams: {tokens} tokens in {wall:.2f} s = {rate:.1f} tokens/s total "
              f"({rate / base_rate:.2f}x one stream); per-stream decode {statistics.median(per_stream):.1f} tokens/s (median)")


if __name__ == "__main__":
    main()
