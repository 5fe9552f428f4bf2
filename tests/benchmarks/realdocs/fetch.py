"""Download the dev set's PDFs from pinned Debian documentation packages (standard library only).

    python tests/benchmarks/realdocs/fetch.py [--dir DIR] [--set dev|heldout]

For each package named in `questions.json`: `apt-get download package=version` into the cache folder
(`--dir`, else `$REALDOCS_DIR`, else `~/.cache/infiniretri-bench/realdocs`), `dpkg -x` into a temporary
folder, copy each chosen PDF to `<dir>/pdfs/<doc id>.pdf`, check its sha256, then delete the .deb and the
extracted tree. Documents already present with the right hash are skipped. Needs a Debian system (apt
lists for bookworm); no root is needed for `apt-get download` itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from itertools import groupby
from operator import attrgetter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import DevDocument, is_fetched, load_devset, pdf_path, pdfs_dir, sha256_of  # noqa: E402


class FetchError(RuntimeError):
    pass


def download_deb(package: str, version: str, into: Path) -> Path:
    """`apt-get download package=version` into the folder `into`; the path of the .deb."""
    result = subprocess.run(
        ["apt-get", "download", f"{package}={version}"], cwd=into, capture_output=True, text=True
    )
    debs = sorted(into.glob(f"{package}_*.deb"))
    if result.returncode != 0 or not debs:
        hint = " (run `apt-get update`; the version may also have left the archive)"
        raise FetchError(f"apt-get download {package}={version} failed{hint}:\n{result.stderr.strip()}")
    return debs[0]


def extract_deb(deb: Path, into: Path) -> None:
    subprocess.run(["dpkg", "-x", str(deb), str(into)], check=True)


def copy_pdf(doc: DevDocument, tree: Path) -> None:
    """Copy the document out of the extracted package tree and check its hash."""
    source = tree / doc.path.lstrip("/")
    if not source.is_file():
        raise FetchError(f"{doc.package} {doc.version} has no {doc.path}")
    target = pdf_path(doc)
    partial = target.with_suffix(".part")
    shutil.copyfile(source, partial)
    digest = sha256_of(partial)
    if digest != doc.sha256:
        partial.unlink()
        raise FetchError(f"{doc.id}: sha256 {digest} is not the recorded {doc.sha256}")
    os.replace(partial, target)


def fetch_package(package: str, version: str, docs: list[DevDocument], work: Path) -> None:
    """Download and unpack one package in a temporary folder under `work`, keeping only the PDFs."""
    with tempfile.TemporaryDirectory(prefix=f"{package}-", dir=work) as tmp:
        folder = Path(tmp)
        print(f"downloading {package}={version} ...", flush=True)
        deb = download_deb(package, version, folder)
        tree = folder / "tree"
        extract_deb(deb, tree)
        deb.unlink()
        for doc in docs:
            copy_pdf(doc, tree)
            print(f"  {doc.id}: {doc.pages} pages -> {pdf_path(doc)}", flush=True)


def fetch_all(documents: Sequence[DevDocument]) -> list[str]:
    """Fetch every missing document; the errors, one line each (empty when all went well)."""
    work = pdfs_dir().parent
    pdfs_dir().mkdir(parents=True, exist_ok=True)
    missing = [d for d in documents if not is_fetched(d)]
    for doc in documents:
        if doc not in missing:
            print(f"  {doc.id}: present ({pdf_path(doc)})")
    errors = []
    key = attrgetter("package", "version")
    for (package, version), group in groupby(sorted(missing, key=key), key=key):
        try:
            fetch_package(package, version, list(group), work)
        except (FetchError, subprocess.CalledProcessError, OSError) as exc:
            errors.append(str(exc))
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", help="cache folder (default: $REALDOCS_DIR or ~/.cache/infiniretri-bench/realdocs)"
    )
    parser.add_argument("--set", default="dev", help="dev, heldout, or a question file")
    args = parser.parse_args(argv)
    if args.dir:
        os.environ["REALDOCS_DIR"] = args.dir
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        print("fetch.py needs apt-get and dpkg (a Debian system)", file=sys.stderr)
        return 2
    errors = fetch_all(load_devset(args.set).documents)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"PDFs are in {pdfs_dir()}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
