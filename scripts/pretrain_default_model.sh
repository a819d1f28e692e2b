#!/bin/sh
# Remakes dropbooth's default model from nothing: random weights, the procedural world, our
# own engine. Run from the repository root after `swift build -c release`. Safe to re-run:
# each stage resumes from its last checkpoint in OUT (a kill loses at most one checkpoint
# interval), and a finished stage is skipped.
#
#   scripts/pretrain_default_model.sh [OUT]          (default OUT: /work/pretrain/default)
#
# Environment: DROPBOOTH (binary), VAE_STEPS, DIFFUSION_STEPS, DECODER_STEPS, EXPORT (the float16 copy to
# ship; default OUT-fp16). Progress: OUT/pretrain/*-loss.tsv and OUT/pretrain/samples/*.png.
set -eu
OUT=${1:-/work/pretrain/default}
BIN=${DROPBOOTH:-.build/release/dropbooth}
VAE_STEPS=${VAE_STEPS:-2000}
DIFFUSION_STEPS=${DIFFUSION_STEPS:-12000}
DECODER_STEPS=${DECODER_STEPS:-6000}
EXPORT=${EXPORT:-$OUT-fp16}

resume() { if [ -f "$OUT/pretrain/$1-state.json" ]; then echo --resume; fi; }

# Stage 1: the autoencoder (about 2 s a step on a busy 2-core machine).
"$BIN" pretrain vae --out "$OUT" --template models/default --seed 0 --steps "$VAE_STEPS" \
    --learning-rate 1e-3 --checkpoint-every 100 --sample-every 250 $(resume vae)

# Stage 2: UNet and text encoder on the autoencoder's latents.
"$BIN" pretrain diffusion --out "$OUT" --seed 0 --steps "$DIFFUSION_STEPS" \
    --checkpoint-every 200 --sample-every 500 $(resume diffusion)

# Stage 3: the decoder alone, the encoder frozen (the latents stage 2 learned stay valid):
# sharper edges than stage 1 reached. It can also run beside stage 2 (it writes only vae/).
"$BIN" pretrain decoder --out "$OUT" --seed 0 --steps "$DECODER_STEPS" --learning-rate 5e-4 \
    --checkpoint-every 100 --sample-every 250 $(resume decoder)

# The model as it ships: configs, tokenizer and float16 weights, without the run state.
"$BIN" pretrain export --from "$OUT" --out "$EXPORT"
