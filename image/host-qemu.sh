#!/usr/bin/env bash
# Install qemu-system-x86, which boots the amd64 twin in the tests, from the Debian suite of the installed
# qemu-utils: this machine kind carries qemu-utils 10.x from bookworm-backports, which Breaks bookworm's own
# qemu-system-common 7.2, so there qemu-system-x86 comes from bookworm-backports too, through a private apt
# source list (the machine's sources are left as they are). Run as root; `make test-packages` runs it.
set -euo pipefail

if command -v qemu-system-x86_64 >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "the image boot test needs qemu-system-x86; run: sudo $0" >&2
    exit 1
fi
utils=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
if [[ "$utils" != *bpo12* ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null
    exit 0
fi
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
mkdir -p "$lists/lists/partial"
cat >"$lists/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian bookworm-backports main
SOURCES
apt_private=(-o "Dir::Etc::sourcelist=$lists/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$lists/lists")
apt-get "${apt_private[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${apt_private[@]}" install -y -qq --no-install-recommends --no-remove \
    -t bookworm-backports qemu-system-x86 >/dev/null
