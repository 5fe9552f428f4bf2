"""The frozen app's entry point (PyInstaller runs this script): the same as the `infiniretri` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a library starts worker processes
    from app.cli import main

    sys.exit(main())
