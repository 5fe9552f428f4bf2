#!/bin/sh
# Add (or with --remove, remove) a menu entry for this unpacked copy of InfiniRetri, for the current user only.
# Run it from the unpacked folder, or anywhere: it finds the folder it lives in.
set -e
HERE="$(cd "$(dirname "$0")" && pwd)"
APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
ICONS="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps"
if [ "${1:-}" = "--remove" ]; then
    rm -f "$APPS/infiniretri.desktop" "$ICONS/infiniretri.png"
    echo "Removed the InfiniRetri menu entry."
    exit 0
fi
mkdir -p "$APPS" "$ICONS"
cp "$HERE/infiniretri.png" "$ICONS/infiniretri.png"
sed -e "s|^Exec=.*|Exec=\"$HERE/infiniretri\" %f|" -e "s|^TryExec=.*|TryExec=$HERE/infiniretri|" \
    "$HERE/infiniretri.desktop" > "$APPS/infiniretri.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
echo "Added InfiniRetri to the application menu ($APPS/infiniretri.desktop)."
