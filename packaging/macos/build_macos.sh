#!/usr/bin/env bash
# macOS recipe (not run on our Linux machines; CI runs it on macos-latest): build dist/InfiniRetri.app with the same
# PyInstaller spec as Linux and Windows (its BUNDLE step), run the app's selfcheck, then pack it into
# dist/InfiniRetri-<version>-macos-<arch>.dmg with a link to /Applications for drag-and-drop install.
#
#   bash packaging/macos/build_macos.sh
#
# Environment: PYTHON (default python3, 3.10+), BUILD_VENV (default build/pyi-venv), TORCH_SPEC (default
# torch==2.13.0; PyPI's macOS wheels are CPU/MPS builds), SKIP_SELFCHECK=1, CODESIGN_IDENTITY (default "-": ad-hoc;
# a "Developer ID Application: ..." identity for distribution, then notarize the .dmg with `xcrun notarytool`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=packaging/build_env.sh
source packaging/build_env.sh
ARCH="$(uname -m)"
APP="dist/InfiniRetri.app"
DMG="dist/InfiniRetri-${VERSION}-macos-${ARCH}.dmg"

ensure_build_venv

step "icons"
"$VENV/bin/python" packaging/render_icons.py build/icons
ICONSET=build/icons/infiniretri.iconset
rm -rf "$ICONSET" && mkdir -p "$ICONSET"
for size in 16 32 128 256 512; do
    cp "build/icons/infiniretri-$size.png" "$ICONSET/icon_${size}x${size}.png"
    cp "build/icons/infiniretri-$((size * 2)).png" "$ICONSET/icon_${size}x${size}@2x.png" 2>/dev/null || true
done
iconutil -c icns "$ICONSET" -o build/icons/infiniretri.icns

step "PyInstaller .app"
rm -rf dist/infiniretri "$APP"
"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/infiniretri.spec
test -x "$APP/Contents/MacOS/infiniretri" || { echo "build_macos: $APP was not built" >&2; exit 1; }
codesign --force --deep --sign "${CODESIGN_IDENTITY:--}" "$APP"

if [ "${SKIP_SELFCHECK:-0}" != 1 ]; then
    step "selfcheck of the .app (empty HOME)"
    TMP_HOME="$(mktemp -d)"
    env -i HOME="$TMP_HOME" PATH=/usr/bin:/bin LANG=en_US.UTF-8 QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 \
        INFINIRETRI_SELFCHECK_DEVICE="${INFINIRETRI_SELFCHECK_DEVICE:-cpu}" \
        "$APP/Contents/MacOS/infiniretri" selfcheck
    rm -rf "$TMP_HOME"
fi

step ".dmg"
STAGE=build/dmg
rm -rf "$STAGE" "$DMG" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "InfiniRetri" -srcfolder "$STAGE" -ov -format UDZO "$DMG"

step "done"
du -sh "$APP" "$DMG"
