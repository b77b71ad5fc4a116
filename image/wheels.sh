#!/usr/bin/env bash
# `make wheels`: papo's wheels for the device, into dist/wheels/: papo-sync (pure Python), papo-social for this
# machine, and papo-social for the Raspberry Pi (aarch64) cross-built by maturin: Rust's aarch64-unknown-linux-gnu
# target, the gcc-aarch64-linux-gnu linker and the arm64 ALSA headers and library from Debian multiarch
# (libasound2-dev:arm64). The aarch64 wheel is checked to hold an AArch64 ELF module and, where qemu-user is
# installed, imported and used (a sled cache written and read) by Debian's arm64 Python 3.11 under emulation.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

out="$REPO_DIR/dist/wheels"
target=aarch64-unknown-linux-gnu
rm -rf "$out"
mkdir -p "$out"
export PATH="$HOME/.cargo/bin:$PATH"
uv=$(uv_bin)

cd "$REPO_DIR"
"$uv" build --quiet --wheel --all-packages --out-dir "$out"

if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" || {
        echo "wheels.sh: Rust's $target standard library is missing and rustup could not download it" >&2
        echo "(it needs https://static.rust-lang.org); run: rustup target add $target" >&2
        exit 1
    }
fi
# alsa-sys finds ALSA through pkg-config: point it at the arm64 multiarch .pc files, never at this machine's.
PKG_CONFIG_ALLOW_CROSS=1 \
    PKG_CONFIG_PATH='' \
    PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    MATURIN_PEP517_ARGS="--target $target" \
    "$uv" build --quiet --wheel --package papo-social --out-dir "$out"

shopt -s nullglob
wheels=("$out"/papo_social-*aarch64*.whl)
[ "${#wheels[@]}" = 1 ] || { echo "wheels.sh: expected one aarch64 wheel in $out, found ${#wheels[@]}" >&2; exit 1; }
wheel=${wheels[0]}
module=$(mktemp -d)
trap 'rm -rf "$module"' EXIT
unzip -q -o "$wheel" 'papo/_native*.so' -d "$module"
machine=$(readelf -h "$module"/papo/_native*.so | sed -n 's/^ *Machine: *//p')
[ "$machine" = "AArch64" ] || { echo "wheels.sh: $wheel holds a $machine module, not AArch64" >&2; exit 1; }
echo "aarch64 wheel: $wheel ($machine ELF)"

if command -v qemu-aarch64-static >/dev/null 2>&1; then
    # Debian's arm64 interpreter, unpacked (not installed: it would replace this machine's); its C library and
    # ALSA come from the multiarch packages installed above.
    (cd "$module" && apt-get download -q python3.11-minimal:arm64 libpython3.11-minimal:arm64 libexpat1:arm64 \
        zlib1g:arm64 >/dev/null 2>&1)
    for deb in "$module"/*.deb; do dpkg-deb -x "$deb" "$module/arm64"; done
    touch "$module/papo/__init__.py"
    PYTHONPATH="$module" qemu-aarch64-static -L "$module/arm64" "$module/arm64/usr/bin/python3.11" -c '
import platform, tempfile, papo._native as native
with tempfile.TemporaryDirectory() as path, native.Cache(path) as cache:
    cache.put("tts", b"key", b"value")
    assert cache.get("tts", b"key") == b"value"
print(f"imported papo._native on {platform.machine()} under qemu-user: a sled cache written and read back")
'
else
    echo "qemu-user (qemu-aarch64-static) is not installed: the aarch64 module was not imported under emulation"
fi
ls -1 "$out"
