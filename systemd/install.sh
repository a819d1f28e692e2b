#!/usr/bin/env bash
# Installs dropbooth as a systemd service:
#   - the binary (built with `swift build -c release` if needed) into $PREFIX/bin,
#   - a system user and group `dropbooth`,
#   - the folders: $DATA/inbox (share users write, the service reads), $DATA/outbox (the service
#     writes, everyone reads), $DATA/models, /var/lib/dropbooth (state),
#   - /etc/dropbooth/config.yaml from config/config.example.yaml (kept if it already exists),
#   - the unit, enabled and started when systemd is running.
# Run as root. Idempotent.
#
# Environment: PREFIX (default /usr/local), DATA (default /srv/dropbooth),
# DESTDIR (install into a staging root instead of /: no user, no systemctl; used to test this script).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}"
DATA="${DATA:-/srv/dropbooth}"
DESTDIR="${DESTDIR:-}"
STATE=/var/lib/dropbooth

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo systemd/install.sh)" >&2
  exit 1
fi

binary="${DROPBOOTH_BINARY:-$here/.build/release/dropbooth}"
if [ ! -x "$binary" ]; then
  echo "install.sh: building dropbooth (release)" >&2
  (cd "$here" && scripts/setup.sh && swift build -c release)
fi

owner=(); as_user=()
if [ -z "$DESTDIR" ]; then
  getent group dropbooth >/dev/null || groupadd --system dropbooth
  id -u dropbooth >/dev/null 2>&1 || useradd --system --gid dropbooth --home-dir "$STATE" \
      --no-create-home --shell /usr/sbin/nologin --comment "dropbooth training service" dropbooth
  owner=(-o root -g dropbooth); as_user=(-o dropbooth -g dropbooth)
fi

install -D -m 0755 "$binary" "$DESTDIR$PREFIX/bin/dropbooth"
# Inbox: people (members of group dropbooth, or the share's user) drop jobs; setgid keeps the group.
install -d -m 2775 "${owner[@]}" "$DESTDIR$DATA/inbox"
install -d -m 2755 "${as_user[@]}" "$DESTDIR$DATA/outbox"
install -d -m 0755 "${owner[@]}" "$DESTDIR$DATA/models"
install -d -m 0750 "${as_user[@]}" "$DESTDIR$STATE"
install -d -m 0755 "$DESTDIR/etc/dropbooth"

config="$DESTDIR/etc/dropbooth/config.yaml"
if [ ! -e "$config" ]; then
  if [ -f "$here/config/config.example.yaml" ]; then
    sed -e "s|^inbox: [^ ]*|inbox: $DATA/inbox|" \
        -e "s|^outbox: [^ ]*|outbox: $DATA/outbox|" \
        -e "s|^state_directory: [^ ]*|state_directory: $STATE|" \
        "$here/config/config.example.yaml" > "$config"
  else
    printf 'inbox: %s\noutbox: %s\nstate_directory: %s\nmodels: {}\n' "$DATA/inbox" "$DATA/outbox" "$STATE" > "$config"
  fi
  chmod 0644 "$config"
  echo "install.sh: wrote $config — add your models to its registry" >&2
fi

unit="$DESTDIR/etc/systemd/system/dropbooth.service"
install -d "$(dirname "$unit")"
sed -e "s|/usr/local/bin/dropbooth|$PREFIX/bin/dropbooth|" -e "s|/srv/dropbooth|$DATA|g" \
    "$here/systemd/dropbooth.service" > "$unit"
chmod 0644 "$unit"

if [ -n "$DESTDIR" ]; then
  echo "install.sh: installed into $DESTDIR (no user created, systemd not touched)"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now dropbooth.service
  echo "install.sh: dropbooth is running — systemctl status dropbooth; journalctl -u dropbooth"
else
  echo "install.sh: systemd is not running here (no /run/systemd/system); the unit is installed but"
  echo "not started. Run the service in the foreground with:"
  echo "  sudo -u dropbooth $PREFIX/bin/dropbooth serve --config /etc/dropbooth/config.yaml"
fi
