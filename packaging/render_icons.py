"""Render the app icon (resources/icons/infiniretri.svg) into PNGs for the installers, with Qt.

    python packaging/render_icons.py [OUT_DIR]      (default build/icons)

Writes infiniretri-<size>.png for the hicolor theme and the macOS iconset, and infiniretri.ico (256 px, through
Qt's ico image format plugin) for the Windows executable and installer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "infiniretri.svg"))
    if not renderer.isValid():
        print("render_icons: resources/icons/infiniretri.svg cannot be read", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        if not image.save(str(out / f"infiniretri-{size}.png")):
            print(f"render_icons: could not write {size} px PNG", file=sys.stderr)
            return 1
        if size == 256 and not image.save(str(out / "infiniretri.ico"), "ICO"):
            print("render_icons: no ICO writer in this Qt (the .exe keeps the default icon)", file=sys.stderr)
    print(f"render_icons: {len(SIZES)} sizes in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
