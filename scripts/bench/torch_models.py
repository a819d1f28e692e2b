#!/usr/bin/env python3
"""PyTorch side of `dropbooth bench unet` / `bench sample`: one case, in this fresh process.

    python3 scripts/bench/torch_models.py --case '{"name": "lora-256", "kind": "loraStep", "size": 256,
        "checkpointing": false, "loraRank": 4, "contextLength": 77}' --threads 2 --repeats 2

Builds diffusers' UNet2DConditionModel / AutoencoderKL from the SD 1.5 config (random init:
timing does not depend on the values), runs the case's work once (reported as "first"), then
--repeats times (the best is reported), and prints one JSON line: {"name", "setup_seconds",
"first_seconds", "best_seconds", "peak_rss_mib", "version"}. The peak is this process's
ru_maxrss, weights and the torch runtime included, as the engine side's VmHWM.

The work is what a user of diffusers would run on CPU: float32, torch.no_grad() for inference,
peft LoRA through unet.add_adapter(LoraConfig(r=4, target_modules=[to_q, to_k, to_v, to_out.0]))
on a frozen UNet with torch.optim.AdamW, unet.enable_gradient_checkpointing() for the
checkpointing cases.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F

# SD 1.5's unet/config.json and vae/config.json (the values that differ from diffusers' defaults
# spelled out as well, so the architecture does not depend on the installed version's defaults).
UNET_CONFIG = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
    freq_shift=0, down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)
VAE_CONFIG = dict(
    in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=[128, 256, 512, 512], layers_per_block=2, act_fn="silu", latent_channels=4,
    norm_num_groups=32, sample_size=512, scaling_factor=0.18215,
)


def make_step(c):
    from diffusers import AutoencoderKL, UNet2DConditionModel

    side = c["size"] // 8
    g = torch.Generator().manual_seed(1)
    if c["kind"] == "vaeDecode":
        vae = AutoencoderKL(**VAE_CONFIG).eval()
        latents = torch.randn(1, 4, side, side, generator=g)

        def decode():
            with torch.no_grad():
                vae.decode(latents)
        return decode

    unet = UNet2DConditionModel(**UNET_CONFIG)
    batch = 2 if c["kind"] == "guidedStep" else 1
    context = torch.randn(batch, c["contextLength"], 768, generator=g)
    latents = torch.randn(batch, 4, side, side, generator=g)
    timesteps = torch.full((batch,), 500, dtype=torch.long)

    if c["kind"] == "unetForward":
        unet.eval()

        def forward():
            with torch.no_grad():
                unet(latents, timesteps, encoder_hidden_states=context)
        return forward

    if c["kind"] == "guidedStep":
        unet.eval()
        state = {"sample": torch.randn(1, 4, side, side, generator=g)}

        def guided():
            with torch.no_grad():
                sample = state["sample"]
                noise = unet(torch.cat([sample, sample]), timesteps, encoder_hidden_states=context).sample
                uncond, cond = noise.chunk(2)
                guided_noise = uncond + 7.5 * (cond - uncond)
                state["sample"] = sample * 0.98 + guided_noise * 0.02
        return guided

    from peft import LoraConfig
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=c["loraRank"], target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    if c["checkpointing"]:
        unet.enable_gradient_checkpointing()
    unet.train()
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    target = torch.randn(latents.shape, generator=g)

    def lora_step():
        prediction = unet(latents, timesteps, encoder_hidden_states=context).sample
        F.mse_loss(prediction, target).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return lora_step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True, help="one case as JSON (dropbooth passes it)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    c = json.loads(args.case)

    start = time.perf_counter()
    step = make_step(c)
    setup = time.perf_counter() - start

    def timed():
        t0 = time.perf_counter()
        step()
        return time.perf_counter() - t0

    first = timed()
    best = min(timed() for _ in range(max(1, args.repeats)))
    import diffusers
    print(json.dumps({
        "name": c["name"], "setup_seconds": setup, "first_seconds": first, "best_seconds": best,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "version": f"torch {torch.__version__}, diffusers {diffusers.__version__}",
    }))


if __name__ == "__main__":
    main()
