"""Random block-structured samples for the training benchmarks (no corpus needed).

    python3 scripts/device/make_block_samples.py DATA_DIR TRAIN_N [CATEGORY]

Writes DATA_DIR/{train,validation}/samples.jsonl: TRAIN_N (and 2 validation) samples of 8 blocks
of 900 random words and a question. The tiny tokenizer gives about one token per 2.4 characters
of these words, so a sample is ~16K tokens; the loader trims it to training.seq_len.
"""
import json
import os
import random
import sys

data, train_n = sys.argv[1], int(sys.argv[2])
category = sys.argv[3] if len(sys.argv) > 3 else "bench"
words = "river stone light garden window paper cloud bread table music north south field".split()
rng = random.Random(1)
for split, n in (("train", train_n), ("validation", 2)):
    os.makedirs(f"{data}/{split}", exist_ok=True)
    with open(f"{data}/{split}/samples.jsonl", "w") as f:
        for _ in range(n):
            blocks = [" ".join(rng.choice(words) for _ in range(900)) + "." for _ in range(8)]
            blocks.append("Which word came first? " + rng.choice(words))
            f.write(json.dumps({"category": category, "blocks": blocks}) + "\n")
