#!/usr/bin/env bash
# Print the directory of the amd64 twin built from this checkout, building it first when the cache has none:
# ~/.cache/papo-image/twin-KEY (PAPO_IMAGE_CACHE overrides), KEY a hash of the recipe, the lockfile and papo's
# sources (lib/key.sh), so CI reruns on an unchanged tree reuse it. Older twins are removed (one is kept).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

cache=${PAPO_IMAGE_CACHE:-$HOME/.cache/papo-image}
twin="$cache/twin-$("$IMAGE_DIR/lib/key.sh" twin)"
if [ ! -f "$twin/build.env" ]; then
    mkdir -p "$cache"
    partial=$(mktemp -d "$cache/partial.XXXXXX")
    trap 'rm -rf "$partial"' EXIT
    "$IMAGE_DIR/build-amd64.sh" "$partial" "$cache" >&2
    find "$cache" -maxdepth 1 -name 'twin-*' -type d -exec rm -rf {} +
    mv "$partial" "$twin"
fi
echo "$twin"
