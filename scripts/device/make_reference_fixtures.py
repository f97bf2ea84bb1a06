#!/usr/bin/env python3
"""Generate golden fixtures with Hugging Face `tokenizers` and `transformers`.

Run on the GPU machine (it has both packages; this machine has neither):
    python3 scripts/device/make_reference_fixtures.py --tok-dir .devdata/tokenizers --out $OUT/fixtures
The output is committed under tests/fixtures/ so CPU CI re-checks parity on every run:
  tokenizers/<name>/reference.json  texts with the ids HF `tokenizers` gives them
  tokenizers/gpt2/tokenizer.json    GPT-2's encoder.json/vocab.bpe assembled by `tokenizers`
  models/tiny-<arch>/              random-weight checkpoints saved with save_pretrained,
                                   plus reference.safetensors: input_ids [T] (I64), logits [T, V] (F32),
                                   greedy [G] (I64) = the greedy continuation transformers generates.
"""
import argparse
import json
import os
import sys
import traceback

TEXTS = [
    "Hello world",
    "Hello, world! How are you doing today?",
    "  leading spaces and trailing   ",
    "The quick brown fox jumps over the lazy dog.",
    "café naïve résumé Ångström Æsir øre",
    "Cafe\u0301 composed vs decomposed: e\u0301 \u00e9",  # NFC matters
    "日本語のテキストです。東京は大きい。",
    "中文分词测试：你好，世界！",
    "한국어 텍스트",
    "Emoji: 😀👍🏽 🇩🇪 👨‍👩‍👧‍👦 done",
    "Numbers: 1234567890 3.14159 1,000,000 0x1F 2026-11-28",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(12))\n",
    "int main() {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "whitespace    runs\t\t\ttabs\n\n\n\nnewlines   \n  \n",
    "windows\r\nline\r\nendings\r\n",
    "mixed\r\n\r\n  indented\r\n",
    "I'm you're he'll she'd we've they're IT'S DON'T",
    "URL: https://example.com/path?q=1&b=two#frag",
    "<html><body><p class=\"x\">Text</p></body></html>",
    "Ελληνικά και Русский текст",
    "العربية نص",
    "a\u00a0non-breaking\u2003em-space\u3000ideographic",
    "zero\u200bwidth",
    "",
    " ",
    "\n",
    "!!!???...,,,;;;",
    "$$$ 100€ ¥500 £3",
    "tab\tseparated\tvalues\n1\t2\t3",
    "Mixed123numbers456and789letters",
    "ALLCAPS lowercase CamelCase snake_case kebab-case",
    "\u0000control\u0007chars",
]

SPECIAL_TEXTS = {
    "qwen3": [
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text",
        "<|im_start|>system\nYou are helpful.<|im_end|>",
        "not special: <|im_start without end",
        "<think>\nreasoning\n</think>\n\nanswer",
    ],
    "gpt2": [
        "text<|endoftext|>more text",
        "<|endoftext|>",
    ],
}


def long_text():
    # A deterministic multi-paragraph text mixing prose and code.
    import inspect
    import json as _json
    src = inspect.getsource(_json)
    return src[:6000]


def tokenizer_fixtures(tok_dir, out):
    from tokenizers import Tokenizer

    res = {}
    qwen = Tokenizer.from_file(os.path.join(tok_dir, "qwen3", "tokenizer.json"))
    gpt2_dir = os.path.join(out, "tokenizers", "gpt2")
    os.makedirs(gpt2_dir, exist_ok=True)
    # transformers 5 saves GPT2TokenizerFast built from vocab files with an empty vocabulary, so the
    # tokenizer.json is assembled with `tokenizers` itself, the way GPT-2's own tokenizer.json is laid out.
    from tokenizers import models, pre_tokenizers, decoders, AddedToken
    g = Tokenizer(models.BPE.from_file(os.path.join(tok_dir, "gpt2", "encoder.json"),
                                       os.path.join(tok_dir, "gpt2", "vocab.bpe")))
    g.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    g.decoder = decoders.ByteLevel()
    g.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    g.save(os.path.join(gpt2_dir, "tokenizer.json"))
    gpt2 = Tokenizer.from_file(os.path.join(gpt2_dir, "tokenizer.json"))
    texts = TEXTS + [long_text()]
    for name, tok in (("qwen3", qwen), ("gpt2", gpt2)):
        cases = []
        for t in texts + SPECIAL_TEXTS[name]:
            enc = tok.encode(t, add_special_tokens=True)
            dec = tok.decode(enc.ids, skip_special_tokens=False)
            cases.append({"text": t, "ids": enc.ids, "decoded": dec})
        d = os.path.join(out, "tokenizers", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
            json.dump({"tokenizers_version": __import__("tokenizers").__version__, "cases": cases}, f,
                      ensure_ascii=False, indent=0)
        res[name] = len(cases)
    try:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tok_dir, "tiny.model"))
        cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in texts]
        d = os.path.join(out, "tokenizers", "spm")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "reference.json"), "w", encoding="utf-8") as f:
            json.dump({"sentencepiece_version": spm.__version__, "cases": cases}, f, ensure_ascii=False, indent=0)
        res["spm"] = len(cases)
    except Exception:
        traceback.print_exc()
    print("tokenizer fixtures:", res)


def tiny_tokenizer(out):
    """A 512-entry byte-level BPE trained by HF tokenizers, in Qwen3's pre-tokenizer style."""
    import inspect
    import collections, email, http.client, textwrap, argparse as ap
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, trainers, Regex

    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|block_sink|>"]
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [inspect.getsource(m) for m in (collections, textwrap, ap)] + TEXTS
    tok.train_from_iterator(corpus, trainer=trainer)
    path = os.path.join(out, "tiny_tokenizer.json")
    tok.save(path)
    return tok, path


def perturb(model, torch, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))


def model_fixtures(out, tok, tok_path):
    import shutil
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config
    from safetensors.torch import save_file

    common = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                  bos_token_id=None, eos_token_id=0, pad_token_id=None)
    specs = {
        "llama": (LlamaConfig, dict(common, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
                                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0,
                                                  "original_max_position_embeddings": 64}),
                  "100KB", torch.float32),
        "mistral": (MistralConfig, dict(common, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=None,
                                        tie_word_embeddings=False), None, torch.float32),
        "qwen2": (Qwen2Config, dict(common, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                                    use_sliding_window=False), None, torch.float32),
        "qwen3": (Qwen3Config, dict(common, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                                    head_dim=32, use_sliding_window=False), None, torch.bfloat16),
    }
    prompt = ("def greet(name):\n    return 'Hello, ' + name\n\nThe quick brown fox jumps over the lazy dog. "
              "Numbers 12345 and café.")
    ids = tok.encode(prompt).ids
    print("prompt tokens:", len(ids))
    for seed, (arch, (cls, kw, shard, save_dtype)) in enumerate(specs.items()):
        try:
            torch.manual_seed(1000 + seed)
            cfg = cls(**kw)
            cfg._attn_implementation = "eager"
            model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
            model = model.float().eval()
            perturb(model, torch, 2000 + seed)
            if save_dtype != torch.float32:
                model = model.to(save_dtype).float()  # reference uses exactly the stored values
            d = os.path.join(out, "models", f"tiny-{arch}")
            os.makedirs(d, exist_ok=True)
            sm = model.to(save_dtype)
            kwargs = {"safe_serialization": True}
            if shard:
                kwargs["max_shard_size"] = shard
            sm.save_pretrained(d, **kwargs)
            model = model.float()
            shutil.copy(tok_path, os.path.join(d, "tokenizer.json"))
            x = torch.tensor([ids])
            with torch.no_grad():
                logits = model(x).logits[0].float().contiguous()
                gen = model.generate(x, max_new_tokens=12, do_sample=False, min_new_tokens=12,
                                     eos_token_id=None, pad_token_id=0)
            greedy = gen[0, len(ids):].contiguous()
            save_file({"input_ids": x[0].to(torch.int64).contiguous(), "logits": logits,
                       "greedy": greedy.to(torch.int64)}, os.path.join(d, "reference.safetensors"))
            print(arch, "saved:", sorted(os.listdir(d)), "logits", tuple(logits.shape),
                  "absmax %.3f" % logits.abs().max().item())
            print(open(os.path.join(d, "config.json")).read())
        except Exception:
            traceback.print_exc()
    print("transformers", transformers.__version__, "torch", torch.__version__)


def regen_references(models_dir, out):
    """Recompute reference.safetensors of committed models with transformers' own loader.

    The reference must be what transformers computes from the *saved* checkpoint: computing it
    from the in-memory model after `.to(bfloat16)` also rounds the RoPE inv_freq buffer to bf16.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from safetensors.torch import load_file, save_file
    for name in sorted(os.listdir(models_dir)):
        d = os.path.join(models_dir, name)
        ref_path = os.path.join(d, "reference.safetensors")
        if not os.path.exists(ref_path):
            continue
        old = load_file(ref_path)
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        x = old["input_ids"].unsqueeze(0)
        with torch.no_grad():
            logits = model(x).logits[0].float().contiguous()
            gen = model.generate(x, max_new_tokens=12, do_sample=False, min_new_tokens=12,
                                 eos_token_id=None, pad_token_id=0)
        greedy = gen[0, x.shape[1]:].contiguous().to(torch.int64)
        o = os.path.join(out, "models", name)
        os.makedirs(o, exist_ok=True)
        save_file({"input_ids": old["input_ids"], "logits": logits, "greedy": greedy},
                  os.path.join(o, "reference.safetensors"))
        print(name, "max |new - old| logits %.3g" % (logits - old["logits"]).abs().max().item(),
              "greedy same:", bool(torch.equal(greedy, old["greedy"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--regen-models", help="recompute reference.safetensors of the models in this dir")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.regen_models:
        regen_references(a.regen_models, a.out)
        return
    a_only = os.environ.get("FIXTURES_ONLY", "")
    if a_only in ("", "tokenizers"):
        try:
            tokenizer_fixtures(a.tok_dir, a.out)
        except Exception:
            traceback.print_exc()
    if a_only in ("", "models"):
        tok, path = tiny_tokenizer(a.out)
        model_fixtures(a.out, tok, path)


if __name__ == "__main__":
    sys.exit(main())
