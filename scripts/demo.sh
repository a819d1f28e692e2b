#!/usr/bin/env bash
# README command 1: installs the Debian packages, builds dropbooth (release), and runs a real
# job on the bundled sample photos through the service, exactly as a dropped folder would run:
# a demo inbox with one job (samples/ + a recipe), `dropbooth serve --once`, results in ./outbox.
#
# Until training is implemented the recipe is a dry run: the job validates the recipe, decodes
# every photo as training would, and publishes a contact sheet, the rejected files and a run
# estimate. CONFIGURATION=debug uses a debug build (faster to build, for trying the script).
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
mkdir -p "$work/inbox/demo-toy" "$work/state" "$repo/outbox"
cp samples/*.jpg samples/*.png samples/*.txt "$work/inbox/demo-toy/"
cat > "$work/inbox/demo-toy/recipe.yaml" <<'RECIPE'
# A LoRA of the toy in the sample photos. dry_run: check everything, train nothing (yet).
version: 1
method: lora
base_model: sd15
dry_run: true
subject:
  token: sks
  class: toy
RECIPE
cat > "$work/config.yaml" <<CONFIG
inbox: $work/inbox
outbox: $repo/outbox
state_directory: $work/state
models:
  sd15: $repo/models/sd15
settle_seconds: 1
rescan_seconds: 5
CONFIG

echo "demo: running the service on $work/inbox (one job: demo-toy)" >&2
"$binary" serve --config "$work/config.yaml" --once
"$binary" status --config "$work/config.yaml"

run="$(ls -t "$repo/outbox/demo-toy" | head -n 1)"
echo
echo "Results: $repo/outbox/demo-toy/$run/"
ls -1 "$repo/outbox/demo-toy/$run/" | sed 's/^/  /'
echo "Overview for browsing: $repo/outbox/index.html"
