# Shared by the image scripts (sourced, never run): where things are and how the recipe's data is read.
# shellcheck shell=bash

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$IMAGE_DIR/.." && pwd)
export IMAGE_DIR REPO_DIR

# The value of KEY in image/recipe.env (plain KEY=value lines: read, never executed).
recipe() {
    local value
    value=$(sed -n "s/^$1=//p" "$IMAGE_DIR/recipe.env" | tail -n 1)
    [ -n "$value" ] || { echo "image/recipe.env has no $1" >&2; return 1; }
    printf '%s\n' "$value"
}

# The packages of the named lists (image/packages/NAME.txt), one a line, comments and blanks dropped.
packages() {
    local name
    for name in "$@"; do
        sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$IMAGE_DIR/packages/$name.txt"
    done
}

# The project's version (pyproject.toml): the name of the release directory.
project_version() {
    sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_DIR/pyproject.toml" | head -n 1
}

# uv: the one on PATH, else where `make uv` puts it.
uv_bin() {
    command -v uv 2>/dev/null || echo "$HOME/.local/bin/uv"
}

# The systemd unit names a preset file enables.
preset_units() {
    sed -n 's/^enable[[:space:]]\+//p' "$@"
}

# A message on stderr with the time since the script started.
note() {
    echo "[image ${SECONDS}s] $*" >&2
}
