#!/usr/bin/env bash
# Build the amd64 twin of the appliance into OUT: the same recipe as the Raspberry Pi image (package lists, files,
# units, first boot, the lean release and its models) on Debian's amd64 packages, with a kernel for a virtual
# machine. OUT gets disk.raw (an ext4 root file system labelled papo-root), vmlinuz, initrd.img and build.env.
# The Debian root with the release's dependencies is cached apart (BASE_CACHE/base-KEY.tar, see lib/key.sh), so
# a change to papo's code only reinstalls papo. Usage (as root): build-amd64.sh OUT [BASE_CACHE]
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

out=$1
base_cache=${2:-$HOME/.cache/papo-image}
[ "$(id -u)" = 0 ] || { echo "build-amd64.sh: run it as root (mmdebstrap, chroot, file ownership)" >&2; exit 1; }
mkdir -p "$out" "$base_cache"
work=$(mktemp -d "$base_cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The Debian root: base, runtime and twin packages, papo's files and units, the release's dependencies.
base="$base_cache/base-$("$IMAGE_DIR/lib/key.sh" base).tar"
if [ ! -f "$base" ]; then
    note "building the Debian root ($base)"
    mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
        --include="$(packages base runtime twin | paste -sd, -)" \
        --customize-hook="\"$IMAGE_DIR/lib/layout.sh\" \"\$1\" twin" \
        --customize-hook="\"$IMAGE_DIR/lib/release.sh\" deps \"\$1\"" \
        "$(recipe DEBIAN_SUITE)" "$work/base.tar" "$(recipe DEBIAN_MIRROR)"
    find "$base_cache" -maxdepth 1 -name 'base-*.tar' -delete
    mv "$work/base.tar" "$base"
fi
note "unpacking the Debian root"
mkdir "$work/root"
tar --extract --file="$base" --directory="$work/root" --numeric-owner --same-permissions --xattrs \
    --xattrs-include='*'

# 2. papo itself, from wheels built from this checkout, and the models.
note "building papo's wheels"
(cd "$REPO_DIR" && "$(uv_bin)" build --quiet --wheel --all-packages --out-dir "$work/wheels")
note "installing the release"
"$IMAGE_DIR/lib/release.sh" app "$work/root" "$work/wheels"/*.whl

# 3. The disk: an ext4 file system of the root, with room for the state; the kernel and initrd beside it.
note "making the disk"
used_mb=$(du -sm "$work/root" | cut -f1)
size_mb=$((used_mb * 11 / 10 + $(recipe TWIN_FREE_MB)))
rm -f "$out/disk.raw"
mke2fs -q -t ext4 -L papo-root -d "$work/root" "$out/disk.raw" "${size_mb}M"
cp "$work/root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$work/root"/boot/initrd.img-* "$out/initrd.img"
release=$(readlink "$work/root$(recipe RELEASE_ROOT)/current")
{
    echo "release=$release"
    echo "install_mb=$(du -sm "$work/root$(recipe RELEASE_ROOT)/$release" | cut -f1)"
    echo "models_mb=$(du -sm "$work/root/var/lib/papo/models" | cut -f1)"
    echo "root_mb=$used_mb"
    echo "disk_mb=$size_mb"
    echo "build_s=$SECONDS"
} >"$out/build.env"
note "done: $out ($(tr '\n' ' ' <"$out/build.env"))"
