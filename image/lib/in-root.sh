#!/usr/bin/env bash
# Run one command inside an image root, in a private mount namespace (everything mounted here goes away with it):
# /proc, /sys and /dev, the build machine's uv cache at /var/cache/papo-build/uv and uv at /var/cache/papo-build/uv-bin
# (this machine's uv, or PAPO_IMAGE_UV: an aarch64 uv for the Raspberry Pi's root, run through qemu-user's binfmt).
# Only CMAKE_ARGS passes from this environment (how llama.cpp is compiled when it is built inside the root).
# Usage: in-root.sh ROOT COMMAND [ARG...]
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

root=$1
shift
cache=$("$(uv_bin)" cache dir)
mkdir -p "$root/var/cache/papo-build/uv" "$cache"
install -m 0755 "${PAPO_IMAGE_UV:-$(uv_bin)}" "$root/var/cache/papo-build/uv-bin"

# shellcheck disable=SC2016  # the inner script expands its own arguments
exec unshare --mount --propagation private -- bash -euo pipefail -c '
    root=$1 cache=$2 cmake_args=${CMAKE_ARGS:-}
    shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount --bind "$cache" "$root/var/cache/papo-build/uv"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        UV_CACHE_DIR=/var/cache/papo-build/uv UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1 \
        CMAKE_ARGS="$cmake_args" "$@"
' in-root "$root" "$cache" "$@"
