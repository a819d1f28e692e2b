#!/usr/bin/env python3
"""Loads dropbooth-written adapter files into a diffusers pipeline and reports what diffusers makes of them.

    python3 scripts/check_outputs_in_diffusers.py MODEL ADAPTER_OR_FOLDER... [--expected FILE]

MODEL is a diffusers folder (model_index.json, unet/, text_encoder/, …), or `tiny` for the
seeded tiny SD1-like pipeline of scripts/fixtures/adapters.py. Each adapter argument is a
.safetensors file or a folder of them. For every file:

- a LoRA (either convention) is loaded with `load_lora_weights` into a fresh pipeline; the script
  prints whether it loaded, the UNet output for a fixed input (latents and text context seeded,
  timestep 500) as max |out| and max |out − base|, and the text encoder's output difference for
  "a photo of a cat";
- an embedding is loaded with `load_textual_inversion` (A1111 files under their file name as the
  token); the script prints the token(s) added and that the vectors match the file's.

With --expected FILE (a safetensors with `unet_out_adapter` [1, 4, h, w], e.g. the fixture's
lora_expected.safetensors, or one the Swift side writes with the same key) each LoRA's UNet
output is also compared with it. Exit status 1 if any file fails to load or to match.
Nothing is written.
"""
import argparse
import os
import sys

import torch
from safetensors import safe_open


def pipeline(model):
    if model == "tiny":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
        from adapters import tiny_pipeline
        return tiny_pipeline()
    from diffusers import StableDiffusionPipeline
    pipe = StableDiffusionPipeline.from_pretrained(model, torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@torch.no_grad()
def unet_and_text_outputs(pipe):
    config = pipe.unet.config
    size = config.sample_size if isinstance(config.sample_size, int) else config.sample_size[0]
    g = torch.Generator().manual_seed(1234)
    latents = torch.randn(1, config.in_channels, size, size, generator=g)
    ids = pipe.tokenizer("a photo of a cat", return_tensors="pt").input_ids
    text = pipe.text_encoder(ids).last_hidden_state
    # The same context every time (from the base model's text encoder would differ with a text LoRA).
    context = torch.randn(1, 5, config.cross_attention_dim, generator=g)
    unet = pipe.unet(latents, torch.tensor([500]), encoder_hidden_states=context).sample
    return unet, text


def files(arguments):
    for argument in arguments:
        if os.path.isdir(argument):
            for name in sorted(os.listdir(argument)):
                if name.endswith(".safetensors"):
                    yield os.path.join(argument, name)
        else:
            yield argument


def kind(path):
    with safe_open(path, "pt") as f:
        keys = list(f.keys())
    if any(k.startswith(("lora_unet_", "lora_te")) or ".lora_" in k or ".lora." in k for k in keys):
        return "lora"
    return "embedding"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("adapters", nargs="+")
    parser.add_argument("--expected")
    parser.add_argument("--atol", type=float, default=1e-4)
    args = parser.parse_args()

    base = pipeline(args.model)
    base_unet, base_text = unet_and_text_outputs(base)
    expected = None
    if args.expected:
        with safe_open(args.expected, "pt") as f:
            expected = f.get_tensor("unet_out_adapter")
    failures = 0
    for path in files(args.adapters):
        name = os.path.basename(path)
        try:
            pipe = pipeline(args.model)
            if kind(path) == "lora":
                pipe.load_lora_weights(path)
                unet, text = unet_and_text_outputs(pipe)
                line = (f"{name}: LoRA loads; UNet out max |out| {unet.abs().max().item():.6g}, "
                        f"max |out − base| {(unet - base_unet).abs().max().item():.6g}; "
                        f"text encoder max |out − base| {(text - base_text).abs().max().item():.6g}")
                if expected is not None:
                    difference = (unet - expected).abs().max().item()
                    line += f"; max |out − expected| {difference:.3g}"
                    if difference > args.atol:
                        line += "  MISMATCH"
                        failures += 1
                print(line)
            else:
                with safe_open(path, "pt") as f:
                    keys = list(f.keys())
                    vectors = f.get_tensor(keys[0]).reshape(-1, pipe.text_encoder.config.hidden_size)
                token = os.path.splitext(name)[0] if keys == ["emb_params"] else None
                before = len(pipe.tokenizer)
                pipe.load_textual_inversion(path, token=token)
                token = token or keys[0]
                added = [token] + [f"{token}_{i}" for i in range(1, vectors.shape[0])]
                ids = pipe.tokenizer.convert_tokens_to_ids(added)
                loaded = pipe.text_encoder.get_input_embeddings().weight[ids]
                same = torch.equal(loaded, vectors)
                print(f"{name}: embedding loads as {token!r}, {len(pipe.tokenizer) - before} token(s); "
                      f"vectors {'match' if same else 'DIFFER from'} the file's")
                failures += 0 if same else 1
        except Exception as error:  # report every file, then fail
            print(f"{name}: does NOT load: {type(error).__name__}: {error}")
            failures += 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
