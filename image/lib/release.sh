#!/usr/bin/env bash
# Install papo's lean production release into an image root: /opt/papo/releases/VERSION/.venv, runtime only (the
# lockfile's packages without the dev group or any extra), bytecode compiled (the release is read-only at run
# time), switched on by the /opt/papo/current link. Two steps, so the dependencies can be cached apart from papo:
#   release.sh deps ROOT           a venv with every locked runtime dependency (no papo yet); needs the uv cache
#                                  `uv sync --frozen` filled (no compiler in the image: nothing is built there)
#   release.sh app ROOT WHEEL...   papo's own wheels (papo-social, papo-sync) into it, `current` pointed at it,
#                                  the models the daemon loads assembled into the state directory
# Offline: everything comes from the lockfile's hashes and the build machine's uv cache. PAPO_IMAGE_ONLINE=1 (the
# Raspberry Pi build: its aarch64 wheels are not in this machine's cache) lets uv download them from PyPI, still
# pinned by the lockfile's hashes, and build the two sdists without aarch64 wheels with the image's build packages.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

step=$1
root=$2
shift 2
release_root=$(recipe RELEASE_ROOT)
version=$(project_version)
release="$release_root/releases/$version"
in_root() { "$IMAGE_DIR/lib/in-root.sh" "$root" "$@"; }
uv_in_root() { in_root /var/cache/papo-build/uv-bin "$@"; }
# The files matching a glob under ROOT, as paths inside it (the glob is expanded here, not in the chroot).
inside() { local path; for path in "$root"$1; do printf '%s\n' "${path#"$root"}"; done; }
offline=(--offline)
if [ "${PAPO_IMAGE_ONLINE:-0}" = 1 ]; then
    offline=()
fi

case "$step" in
deps)
    mkdir -p "$root/var/cache/papo-build"
    # The exact runtime set of uv.lock: no dev group, no extras, not the workspace's own packages (added by `app`).
    (cd "$REPO_DIR" && "$(uv_bin)" export --frozen --no-dev --no-emit-workspace --no-header --quiet \
        --format requirements-txt --output-file "$root/var/cache/papo-build/requirements.txt")
    uv_in_root venv --quiet --python /usr/bin/python3 --no-project "$release/.venv"
    if [ "${PAPO_IMAGE_ONLINE:-0}" != 1 ]; then
        # The sdist-only packages first, from the wheels uv built from their locked sdists on this machine (its
        # cache, which `uv sync --frozen` filled); the hash-checked install below then finds them satisfied.
        mkdir -p "$root/var/cache/papo-build/built"
        cache=$("$(uv_bin)" cache dir)
        for name in $(recipe BUILT_SDISTS); do
            pinned=$(sed -n "s/^${name}==\([^ ;]*\).*/\1/p" "$root/var/cache/papo-build/requirements.txt")
            wheel=$(find "$cache"/sdists-v*/pypi/"$name/$pinned" -maxdepth 3 -name "${name//-/_}-$pinned-*x86_64.whl" \
                -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
            [ -n "$wheel" ] || { echo "release.sh: no built wheel of $name $pinned in $cache: run uv sync --frozen" >&2; exit 1; }
            cp "$wheel" "$root/var/cache/papo-build/built/"
        done
        mapfile -t built < <(inside '/var/cache/papo-build/built/*.whl')
        uv_in_root pip install --quiet --offline --python "$release/.venv/bin/python" --no-deps --compile-bytecode \
            "${built[@]}"
    fi
    install_locked() {
        uv_in_root pip install --quiet "$@" --python "$release/.venv/bin/python" --no-deps --require-hashes \
            --compile-bytecode -r /var/cache/papo-build/requirements.txt
    }
    # `uv sync --frozen` fetches the lock's files by URL and may leave a package's index page out of the cache,
    # which the offline install in the root needs: then this machine (which reaches the package index; the root
    # has not its certificates) fills them with a dry run, and the root installs offline again.
    if ! install_locked "${offline[@]}"; then
        echo "release.sh: the uv cache lacks index pages; filling them from the package index" >&2
        probe=$(mktemp -d)
        # the packages built from sdists are installed in the root already (and a dry run would build them)
        awk -v built="$(recipe BUILT_SDISTS)" 'BEGIN { n = split(built, b, " "); for (i = 1; i <= n; i++) skip[b[i]] }
            /^[^ #]/ { name = $0; sub(/[=;[ ].*/, "", name); drop = (name in skip) } !drop' \
            "$root/var/cache/papo-build/requirements.txt" >"$probe/requirements.txt"
        "$(uv_bin)" venv --quiet --no-config "$probe/venv"
        "$(uv_bin)" pip install --quiet --no-config --dry-run --no-deps --require-hashes \
            --python "$probe/venv/bin/python" -r "$probe/requirements.txt"
        rm -rf "$probe"
        install_locked "${offline[@]}"
    fi
    rm -rf "$root/var/cache/papo-build"
    ;;
app)
    [ "$#" -gt 0 ] || { echo "release.sh app: give papo's wheels" >&2; exit 1; }
    mkdir -p "$root/var/cache/papo-build/wheels"
    cp "$@" "$root/var/cache/papo-build/wheels/"
    mapfile -t wheels < <(inside '/var/cache/papo-build/wheels/*.whl')
    uv_in_root pip install --quiet "${offline[@]}" --python "$release/.venv/bin/python" --no-deps --compile-bytecode \
        "${wheels[@]}"
    # The compiled parts load on the image's own libraries. (No `uv pip check`: it does not know the lock's
    # overrides, which leave out sentence-transformers and llm on purpose; the export is the lock's exact set.)
    in_root "$release/.venv/bin/python" -c \
        'import papo._native, llama_cpp, onnxruntime, ctranslate2, faster_whisper, chromadb, systemd.daemon'
    ln -sfn "releases/$version" "$root$release_root/current"
    install -D -m 0644 "$REPO_DIR/README.md" "$root/usr/share/doc/papo/README.md"
    # The models the default settings load, assembled and verified (sha256) now, so the first boot downloads and
    # assembles nothing; owned by the service user like the rest of its state directory.
    read -r -a models <<<"$(recipe MODELS)"
    in_root /usr/bin/env PAPO_STATE_DIR=/var/lib/papo PAPO_CONFIG=/etc/papo/papo.toml \
        "$release_root/current/.venv/bin/papo" models provision "${models[@]}"
    in_root /bin/chown -R papo:papo /var/lib/papo
    chmod 0700 "$root/var/lib/papo"
    {
        echo "version=$version"
        echo "lock_sha256=$(sha256sum "$REPO_DIR/uv.lock" | cut -d' ' -f1)"
        echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$root$release/RELEASE"
    rm -rf "$root/var/cache/papo-build"
    ;;
*)
    echo "release.sh: the step is deps or app, not $step" >&2
    exit 1
    ;;
esac
