#!/usr/bin/env bash
# Installs what dropbooth needs on Debian: the C libraries it links (from the distribution, so
# security fixes arrive with it) and pkg-config. Idempotent: does nothing when all are present.
# Swift itself is expected on PATH (Swift 6.3 toolchain).
set -euo pipefail
packages=(pkg-config libopenblas-dev libinotifytools0-dev libjpeg-dev libpng-dev libyaml-dev
          libfreetype-dev fonts-dejavu-core libsystemd-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.3 toolchain needed)" >&2; exit 1; }
