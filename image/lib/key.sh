#!/usr/bin/env bash
# Print the cache key of a build step: a hash of the contents of every file it is made from.
#   key.sh base   what the twin's Debian root is made from (the recipe's settings, lists, files, the twin's
#                 tree and scripts; the units; the lockfile): the root with the release's dependencies
#   key.sh twin   the base key and papo's sources (device/, sync/, native/, README.md): the bootable twin
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# sha256 of the named paths' files (tracked or new, not ignored by git), by path and content.
digest() {
    (cd "$REPO_DIR" && git ls-files -z --cached --others --exclude-standard -- "$@" | sort -z |
        while IFS= read -r -d '' file; do if [ -f "$file" ]; then sha256sum "$file"; fi; done | sha256sum | cut -c1-16)
}

base() {
    digest image/recipe.env image/packages image/files image/twin image/lib image/build-amd64.sh \
        systemd/papo.service systemd/papo.sysusers.conf uv.lock pyproject.toml sync/pyproject.toml
}

case "${1:-}" in
base) base ;;
twin) printf '%s-%s\n' "$(base)" "$(digest device sync native README.md)" ;;
*) echo "key.sh: base or twin" >&2; exit 1 ;;
esac
