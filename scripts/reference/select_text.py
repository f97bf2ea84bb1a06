#!/usr/bin/env python3
"""Pick the reference model's training text from a `blockattn corpus build` split.

Keeps every document in file order, except that categories that would swamp the mixture
(dictionary and glossary entries: 30% of the corpus bytes) are capped. Output: JSONL lines
{"text", "category"}; deterministic (no randomness, input order kept).

usage: select_text.py CORPUS/train.jsonl OUT.jsonl [--cap category=MB ...]
"""
import argparse
import json
import sys

DEFAULT_CAPS = {"dictionary": 8.0, "glossary": 3.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus_jsonl")
    ap.add_argument("out_jsonl")
    ap.add_argument("--cap", action="append", default=[], help="category=MB (text bytes, 10^6)")
    a = ap.parse_args()
    caps = dict(DEFAULT_CAPS)
    for c in a.cap:
        name, _, mb = c.partition("=")
        caps[name] = float(mb)
    used = {}
    kept = 0
    with open(a.corpus_jsonl, encoding="utf-8") as src, open(a.out_jsonl, "w", encoding="utf-8") as out:
        for line in src:
            if not line.strip():
                continue
            d = json.loads(line)
            cat, text = d.get("category", ""), d["text"]
            if used.get(cat, 0) + len(text) > caps.get(cat, float("inf")) * 1e6:
                continue
            used[cat] = used.get(cat, 0) + len(text)
            out.write(json.dumps({"text": text, "category": cat}) + "\n")
            kept += 1
    for cat in sorted(used):
        print(f"{cat:16s} {used[cat] / 1e6:8.2f} MB", file=sys.stderr)
    print(f"{kept} documents, {sum(used.values()) / 1e6:.2f} MB -> {a.out_jsonl}", file=sys.stderr)


if __name__ == "__main__":
    main()
