#!/usr/bin/env python3
"""Reference side of the whole-job benchmark: the small LoRA job dropbooth runs, done the way
the diffusers LoRA training scripts do it on the CPU, with seconds per phase.

    python3 scripts/bench/torch_training_job.py --images inbox/dog --count 5 --steps 100 \\
        --resolution 512 --threads 2

The job: N images from a folder (sorted by name; captions from <image>.txt beside each, else
--caption), resized (shorter side) and center-cropped to --resolution, LoRA rank --rank on the
UNet's attention projections (to_q, to_k, to_v, to_out.0) through peft, AdamW at --lr, batch 1,
--steps steps of epsilon-prediction MSE on DDPM noise (SD's scaled-linear schedule), float32.
As train_text_to_image_lora.py with a frozen text encoder, latents and text embeddings are
computed once per image before training ("cache"); the adapter is saved as diffusers'
pytorch_lora_weights.safetensors ("save").

With --model DIR the UNet, VAE, text encoder, tokenizer and noise schedule come from a diffusers
folder (what `dropbooth bench job --model DIR` trains on the other side). Without it — there are
no real weights on this machine — they are built from the SD 1.5 configs with random weights
(torch_models.py's configs; timing does not depend on the values), with CLIP's vocabulary from
assets/clip; --save-model DIR writes that random SD 1.5 as a diffusers folder and exits, so that
both sides can train the same SD 1.5-shaped model.

Prints one JSON line: seconds per phase ("load", "cache", "train", "save"), the mean seconds
per training step, the last loss, the peak RSS, the versions.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import UNET_CONFIG, VAE_CONFIG  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# SD 1.5's text_encoder/config.json (OpenAI CLIP ViT-L/14's text tower).
TEXT_CONFIG = dict(
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=768,
    bos_token_id=49406, eos_token_id=49407, pad_token_id=1,
)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def load_images(folder, count, resolution, caption, seed):
    """(tensor [3, R, R] in [-1, 1], caption) per image, as the training scripts prepare them."""
    from PIL import Image, ImageOps

    examples = []
    if folder is None:
        # No folder: random pictures, so the script runs anywhere (the timing is the same).
        g = torch.Generator().manual_seed(seed)
        for _ in range(count):
            examples.append((torch.rand(3, resolution, resolution, generator=g) * 2 - 1, caption))
        return examples
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))[:count]
    if len(names) < count:
        sys.exit(f"{folder}: {len(names)} image(s), {count} asked for")
    for name in names:
        image = ImageOps.exif_transpose(Image.open(os.path.join(folder, name))).convert("RGB")
        scale = resolution / min(image.size)
        image = image.resize((max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale))),
                             Image.BICUBIC)
        left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
        pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(resolution, resolution, 3)
        text = caption
        for candidate in (os.path.join(folder, os.path.splitext(name)[0] + ".txt"), os.path.join(folder, name + ".txt")):
            if os.path.exists(candidate):
                with open(candidate, encoding="utf-8") as f:
                    text = f.read().strip()
                break
        examples.append((pixels.permute(2, 0, 1).float() / 127.5 - 1, text))
    return examples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", help="folder of training images (default: random pictures)")
    parser.add_argument("--count", type=int, default=5, help="images to train on (the first N by name)")
    parser.add_argument("--caption", default="a photo of sks dog", help="caption for images without a .txt")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--out", help="folder for pytorch_lora_weights.safetensors (default: a temporary one)")
    parser.add_argument("--model", help="a diffusers folder to train (default: random weights in SD 1.5's shapes)")
    parser.add_argument("--save-model", help="write the random SD 1.5 as a diffusers folder here and exit")
    parser.add_argument("--save-dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                        help="the precision --save-model writes (most SD 1.5 downloads are float16)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    seconds = {}

    # load: the models (random weights in SD 1.5's shapes), tokenizer, noise schedule.
    start = time.perf_counter()
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if args.model:
        tokenizer = CLIPTokenizer.from_pretrained(args.model, subfolder="tokenizer")
        text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").float().eval().requires_grad_(False)
        vae = AutoencoderKL.from_pretrained(args.model, subfolder="vae").float().eval().requires_grad_(False)
        unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet").float().requires_grad_(False)
        scheduler = DDPMScheduler.from_pretrained(args.model, subfolder="scheduler")
    else:
        tokenizer = CLIPTokenizer(os.path.join(REPO, "assets/clip/vocab.json"), os.path.join(REPO, "assets/clip/merges.txt"),
                                  model_max_length=77)
        text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)).eval().requires_grad_(False)
        vae = AutoencoderKL(**VAE_CONFIG).eval().requires_grad_(False)
        unet = UNet2DConditionModel(**UNET_CONFIG).requires_grad_(False)
        scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    if args.save_model:
        from diffusers import StableDiffusionPipeline
        StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                requires_safety_checker=False).to(getattr(torch, args.save_dtype)).save_pretrained(args.save_model)
        print(json.dumps({"saved": args.save_model}))
        return
    unet.add_adapter(LoraConfig(r=args.rank, lora_alpha=args.rank, init_lora_weights="gaussian",
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    if args.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    seconds["load"] = time.perf_counter() - start

    # cache: decode and crop the images, encode each once with the VAE and its caption once with
    # the frozen text encoder.
    start = time.perf_counter()
    examples = load_images(args.images, args.count, args.resolution, args.caption, args.seed)
    cached = []
    with torch.no_grad():
        for pixels, caption in examples:
            latents = vae.encode(pixels.unsqueeze(0)).latent_dist.sample() * vae.config.scaling_factor
            ids = tokenizer(caption, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                            return_tensors="pt").input_ids
            cached.append((latents, text_encoder(ids)[0]))
    seconds["cache"] = time.perf_counter() - start

    # train: batch 1, images in a shuffled order per epoch, a random timestep and noise per step.
    start = time.perf_counter()
    unet.train()
    g = torch.Generator().manual_seed(args.seed)
    order, loss = [], None
    for _ in range(args.steps):
        if not order:
            order = torch.randperm(len(cached), generator=g).tolist()
        latents, context = cached[order.pop()]
        noise = torch.randn(latents.shape, generator=g)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=g)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        prediction = unet(noisy, timesteps, encoder_hidden_states=context).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds["train"] = time.perf_counter() - start

    # save: the adapter as diffusers names it (what StableDiffusionPipeline.load_lora_weights reads).
    start = time.perf_counter()
    out = args.out or tempfile.mkdtemp(prefix="torch-lora-job-")
    os.makedirs(out, exist_ok=True)
    weights = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    save_file({"unet." + k: v.contiguous() for k, v in weights.items()}, os.path.join(out, "pytorch_lora_weights.safetensors"),
              metadata={"format": "pt"})
    seconds["save"] = time.perf_counter() - start

    import diffusers
    import peft
    print(json.dumps({
        "job": f"lora r{args.rank} attention, {len(cached)} image(s), {args.steps} steps at {args.resolution} px, batch 1",
        "seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "seconds_per_step": seconds["train"] / max(1, args.steps),
        "final_loss": None if loss is None else loss.item(),
        "synthetic_images": args.images is None,
        "threads": args.threads,
        "output": os.path.join(out, "pytorch_lora_weights.safetensors"),
        "peak_rss_mib": peak_rss_mib(),
        "version": f"torch {torch.__version__}, diffusers {diffusers.__version__}, peft {peft.__version__}",
    }))


def peak_rss_mib():
    """This process's own peak resident memory. Not getrusage's ru_maxrss: on Linux a child
    inherits its parent's maxrss across fork and exec, so under `dropbooth bench job` (which
    trains first, then starts this script) it would report dropbooth's peak, not ours.
    VmHWM belongs to the address space exec made."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
