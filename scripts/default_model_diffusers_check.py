#!/usr/bin/env python3
"""Checks that diffusers reads a default-model folder as dropbooth does.

    python3 scripts/default_model_diffusers_check.py MODEL_FOLDER [DROPBOOTH_BINARY]

Loads MODEL_FOLDER with diffusers' StableDiffusionPipeline.from_pretrained, draws one image
with DDIM from fixed starting latents, asks `dropbooth sample` for the same image from the
same latents, and prints how far apart the two are (8-bit pixel values). Not run in CI: it
needs torch and diffusers, and a built dropbooth (default .build/release/dropbooth).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline
from PIL import Image
from safetensors.torch import save_file


def main() -> int:
    folder = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else ".build/release/dropbooth"
    prompt = "a large red circle and a small blue square on a striped green background"
    size, steps, guidance = 32, 20, 4.0

    # float32 throughout: transformers 5 otherwise keeps the text encoder in the file's float16
    # while diffusers widens the UNet, and the two then refuse to multiply.
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False,
                                                   torch_dtype=torch.float32)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    latents = torch.randn(1, pipe.unet.config.in_channels, size // factor, size // factor, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = pipe(prompt, height=size, width=size, num_inference_steps=steps, guidance_scale=guidance,
                      latents=latents.clone(), output_type="np").images[0]
    theirs = np.round(theirs * 255).astype(np.int16)

    with tempfile.TemporaryDirectory() as tmp:
        latents_path = os.path.join(tmp, "latents.safetensors")
        save_file({"latents": latents.contiguous()}, latents_path)
        out = os.path.join(tmp, "out")
        subprocess.run([binary, "sample", "--model", folder, "--prompt", prompt, "--latents", latents_path,
                        "--width", str(size), "--height", str(size), "--steps", str(steps), "--sampler", "ddim",
                        "--guidance", str(guidance), "--out", out], check=True, stdout=subprocess.DEVNULL)
        png = [f for f in os.listdir(out) if f.endswith(".png")][0]
        ours = np.asarray(Image.open(os.path.join(out, png)).convert("RGB")).astype(np.int16)

    diff = np.abs(ours - theirs)
    print(f"diffusers loaded {folder}: unet {sum(p.numel() for p in pipe.unet.parameters()):,} parameters, "
          f"vae {sum(p.numel() for p in pipe.vae.parameters()):,}, text encoder {sum(p.numel() for p in pipe.text_encoder.parameters()):,}")
    print(f"same latents, DDIM {steps} steps, guidance {guidance}: max |dropbooth − diffusers| = {diff.max()} / 255, mean {diff.mean():.3f}")
    return 0 if diff.max() <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
