#!/usr/bin/env bash
# Lay papo's files into an image root: the recipe's files/ tree, a target's own tree, and the repository's units
# (systemd/: used as they are, never copied into image/), then create the papo user and directories and enable
# the units the presets name. Usage: layout.sh ROOT TARGET   (TARGET: twin or pi)
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

root=$1
target=$2
[ -d "$root/etc" ] || { echo "layout.sh: $root is not an image root" >&2; exit 1; }

cp -a --no-preserve=ownership "$IMAGE_DIR/files/." "$root/"
cp -a --no-preserve=ownership "$IMAGE_DIR/$target/files/." "$root/"
install -D -m 0644 "$REPO_DIR/systemd/papo.service" "$root/usr/lib/systemd/system/papo.service"
install -D -m 0644 "$REPO_DIR/systemd/papo.sysusers.conf" "$root/usr/lib/sysusers.d/papo.conf"

# The service user (from the sysusers file the device also applies at boot), then its directories and the
# settings' permissions (the tmpfiles file, applied again at every boot).
systemd-sysusers --root="$root" papo.conf
systemd-tmpfiles --root="$root" --create papo.conf

# No password anywhere: the image's accounts are all locked (papo is a system user without one).
if grep -v '^[^:]*:[*!]' "$root/etc/shadow" | grep -q .; then
    echo "layout.sh: an account in the image has a password:" >&2
    grep -v '^[^:]*:[*!]' "$root/etc/shadow" | cut -d: -f1 >&2
    exit 1
fi

shopt -s nullglob
mapfile -t units < <(preset_units "$IMAGE_DIR/files/usr/lib/systemd/system-preset/"*.preset \
    "$IMAGE_DIR/$target/files/usr/lib/systemd/system-preset/"*.preset)
systemctl --root="$root" preset "${units[@]}"
