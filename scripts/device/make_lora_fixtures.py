#!/usr/bin/env python3
"""Golden LoRA fixtures from Hugging Face PEFT, for CPU CI's parity tests (tests/engine/lora_test.cpp).

Run on the GPU machine (it has transformers and peft; this machine has neither):
    python3 scripts/device/make_lora_fixtures.py --out $OUT/lora
For every tests/fixtures/models/tiny-<arch> it writes <out>/tiny-<arch>/:
  peft/                  a random LoRA adapter made and saved by PEFT (get_peft_model, lora_B
                         drawn non-zero so the adapter changes the output)
  reference.safetensors  input_ids [T] (I64, the model fixture's), and float32 [T, V] logits of
                         transformers + PEFT with: logits_peft (the adapter above), logits_ours
                         (tests/fixtures/lora/tiny-<arch>/ours, written by `blockattn adapter
                         init`, loaded by PeftModel.from_pretrained), logits_base (adapter
                         disabled)
Commit them under tests/fixtures/lora/.
"""
import argparse
import os
import shutil
import sys

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Per architecture: targets, alpha, rsLoRA. Different choices so the fixtures cover them all.
SPECS = {
    "llama": (ALL, 8.0, False),
    "mistral": (["q_proj", "v_proj", "down_proj"], 16.0, False),
    "qwen2": (["k_proj", "o_proj", "gate_proj", "up_proj"], 8.0, False),
    "qwen3": (ALL, 6.0, True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixtures", default="tests/fixtures")
    a = ap.parse_args()
    import torch
    import peft
    import transformers
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    def base(d):
        return AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()

    failed = 0
    for arch, (targets, alpha, rslora) in SPECS.items():
        name = f"tiny-{arch}"
        d = os.path.join(a.fixtures, "models", name)
        ours = os.path.join(a.fixtures, "lora", name, "ours")
        out = os.path.join(a.out, name)
        os.makedirs(out, exist_ok=True)
        x = load_file(os.path.join(d, "reference.safetensors"))["input_ids"].unsqueeze(0)
        torch.manual_seed(3000 + len(arch))
        cfg = LoraConfig(r=4, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets,
                         use_rslora=rslora, task_type="CAUSAL_LM")
        model = get_peft_model(base(d), cfg)
        g = torch.Generator().manual_seed(4000 + len(arch))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.copy_(0.05 * torch.randn(p.shape, generator=g))
        model.eval()
        peft_dir = os.path.join(out, "peft")
        if os.path.exists(peft_dir):
            shutil.rmtree(peft_dir)
        model.save_pretrained(peft_dir)
        # Only the two files our loader reads (save_pretrained also writes a README).
        for f in os.listdir(peft_dir):
            if f not in ("adapter_config.json", "adapter_model.safetensors"):
                os.remove(os.path.join(peft_dir, f))
        with torch.no_grad():
            logits_peft = model(x).logits[0].float().contiguous()
            with model.disable_adapter():
                logits_base = model(x).logits[0].float().contiguous()
        want_base = load_file(os.path.join(d, "reference.safetensors"))["logits"]
        print(arch, "PEFT adapter: max |adapted - base| %.4f; adapter off vs the model fixture %.3g" %
              ((logits_peft - logits_base).abs().max().item(), (logits_base - want_base).abs().max().item()))
        reloaded = PeftModel.from_pretrained(base(d), peft_dir).eval()
        with torch.no_grad():
            r = reloaded(x).logits[0].float()
        print(arch, "PEFT adapter reloaded by PEFT: max diff %.3g" % (r - logits_peft).abs().max().item())
        tensors = {"input_ids": x[0].to(torch.int64).contiguous(), "logits_peft": logits_peft,
                   "logits_base": logits_base}
        if os.path.isdir(ours):
            try:
                m = PeftModel.from_pretrained(base(d), ours).eval()
                with torch.no_grad():
                    logits_ours = m(x).logits[0].float().contiguous()
                tensors["logits_ours"] = logits_ours
                print(arch, "our adapter in PEFT: max |adapted - base| %.4f" %
                      (logits_ours - logits_base).abs().max().item())
            except Exception as e:  # reported, and the fixture lacks logits_ours, so the test fails
                failed += 1
                print(arch, "PEFT could not load our adapter:", repr(e))
        else:
            failed += 1
            print(arch, "no adapter of ours at", ours)
        save_file(tensors, os.path.join(out, "reference.safetensors"))
    print("transformers", transformers.__version__, "peft", peft.__version__, "torch", torch.__version__)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
