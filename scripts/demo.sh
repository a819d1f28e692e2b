#!/usr/bin/env bash
# README command 1: installs the Debian packages, builds dropbooth (release), and runs a real
# training job through the service, exactly as a dropped folder would run: a demo inbox with
# one job (the photos in demo/star/ + a recipe), `dropbooth serve --once`, results in ./outbox.
#
# The job teaches the default model (models/default, dropbooth's own small SD-architecture
# model, which has never seen a star) the yellow star of the photos with a LoRA at 32 px, in a
# few minutes on two cores. The outbox gets the adapter in diffusers and kohya form, sample
# grids (base model beside the trained one), the report, the loss curve, the contact sheet.
# CONFIGURATION=debug uses a debug build (faster to build, for trying the script).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
configuration="${CONFIGURATION:-release}"

scripts/setup.sh
swift build -c "$configuration" --product dropbooth
binary="$(swift build -c "$configuration" --show-bin-path)/dropbooth"

# The demo's inbox and state live in a temporary folder; the results go to ./outbox.
work="$(mktemp -d -t dropbooth-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/inbox/demo-star" "$work/state" "$repo/outbox"
cp demo/star/*.png demo/star/*.txt "$work/inbox/demo-star/"
cat > "$work/inbox/demo-star/recipe.yaml" <<'RECIPE'
# A LoRA that teaches the default model the word "star" from 8 captioned photos.
version: 1
method: lora
base_model: default
subject:
  instance_prompt: "a yellow star"   # only for photos without a caption file; these all have one
train:
  steps: 600
  resolution: 32
  batch_size: 4
  learning_rate: 1.0e-3     # a small model and a small rank learn at a higher rate than SD's 1e-4
  checkpoint_every: 200
  random_flip: true
lora:
  rank: 8
  targets: [attention, feed_forward]
samples:
  prompts:
    - "a large yellow star on a plain purple background"
    - "a medium yellow star on a striped red background"
    - "a large yellow circle on a plain purple background"
  seeds: [1, 2, 3, 4]
  steps: 25
  sampler: dpmpp_2m
  guidance: 4
  every: 300
  size: 32
outputs:
  formats: [diffusers, kohya]
RECIPE
cat > "$work/config.yaml" <<CONFIG
inbox: $work/inbox
outbox: $repo/outbox
state_directory: $work/state
models:
  default: $repo/models/default
settle_seconds: 1
rescan_seconds: 5
CONFIG

echo "demo: running the service on $work/inbox (one job: demo-star)" >&2
"$binary" serve --config "$work/config.yaml" --once
"$binary" status --config "$work/config.yaml"

run="$(ls -t "$repo/outbox/demo-star" | head -n 1)"
echo
echo "Results: $repo/outbox/demo-star/$run/"
ls -1 "$repo/outbox/demo-star/$run/" | sed 's/^/  /'
echo "Overview for browsing: $repo/outbox/index.html"
