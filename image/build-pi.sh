#!/usr/bin/env bash
# `make image`: the Raspberry Pi OS image of the appliance (Debian trixie, arm64; Pi 4 and Pi 5), built by pi-gen
# (arm64 branch, pinned in recipe.env) on an x86-64 or arm64 Debian machine, as root: pi-gen's stage0-stage2
# (Raspberry Pi OS Lite) and papo's stage (image/pi/stage-papo: the same package lists, files, units, first boot
# and release as the amd64 twin). Needs GitHub (pi-gen), archive.raspberrypi.com and deb.debian.org (packages),
# PyPI (wheels), qemu-user-binfmt on an x86-64 machine. Writes build/pi/pi-gen/deploy/*papo-social*.img.xz.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || { echo "build-pi.sh: pi-gen runs as root: sudo make image" >&2; exit 1; }
work="$REPO_DIR/build/pi"
pigen="$work/pi-gen"
mkdir -p "$work"

# 1. pi-gen at the pinned commit.
note "pi-gen $(recipe PI_GEN_REF)"
if [ ! -d "$pigen/.git" ]; then
    git clone --branch arm64 "$(recipe PI_GEN_REPO)" "$pigen"
fi
git -C "$pigen" fetch --quiet origin arm64
git -C "$pigen" checkout --quiet --force "$(recipe PI_GEN_REF)"

# 2. papo's wheels: papo-sync and the aarch64 papo-social (native module cross-built by maturin).
note "wheels"
"$IMAGE_DIR/wheels.sh"
rm -rf "$work/wheels" && mkdir -p "$work/wheels"
cp "$REPO_DIR"/dist/wheels/papo_sync-*.whl "$REPO_DIR"/dist/wheels/papo_social-*aarch64*.whl "$work/wheels/"

# 3. uv for aarch64 (it installs the release inside the arm64 root), the same version as this machine's.
note "uv for aarch64"
uv=$(uv_bin)
uv_version=$("$uv" --version | cut -d' ' -f2)
rm -rf "$work/uv" && mkdir -p "$work/uv"
"$uv" run --quiet --no-project --with pip python -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_17_aarch64 --python-version 3.13 "uv==$uv_version" --dest "$work/uv"
unzip -q -j "$work"/uv/uv-*.whl '*/scripts/uv' -d "$work/uv"

# 4. papo's stage: the recipe's data made into pi-gen's files (packages from the same lists).
note "stage"
rm -rf "$work/stage-papo"
cp -a "$IMAGE_DIR/pi/stage-papo" "$work/stage-papo"
packages runtime pi pi-build >"$work/stage-papo/00-papo/00-packages-nr"
touch "$pigen/stage2/SKIP_IMAGES"  # only papo's stage is exported
{
    cat "$IMAGE_DIR/pi/config"
    echo "STAGE_LIST=\"stage0 stage1 stage2 $work/stage-papo\""
    echo "export PAPO_IMAGE_DIR=$IMAGE_DIR"
    echo "export PAPO_WHEELS_DIR=$work/wheels"
    echo "export PAPO_UV_AARCH64=$work/uv/uv"
} >"$work/config"

# 5. The build (an hour or more on x86-64: the arm64 root runs under qemu-user, llama.cpp is compiled there).
note "pi-gen build"
(cd "$pigen" && ./build.sh -c "$work/config")
note "image: $(ls "$pigen"/deploy/*papo-social*.img.xz)"
