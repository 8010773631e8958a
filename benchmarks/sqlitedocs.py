"""The held-out quality corpus: SQLite's own documentation, as Debian ships it.

    python benchmarks/sqlitedocs.py [--out DIR]     # fetch and unpack; prints the folder

``sqlite3-doc`` (Debian bookworm, version in ``data/sqlite_queries.json``) holds the HTML
pages of sqlite.org. The 121 pages named there were chosen by a rule, not by hand: every
top-level page whose extracted text is 500 to 15,000 characters long, less navigation and
index pages (site map, keyword index, document list, news, licence templates). They are a
different corpus from the tuning set (Python's help topics: plain text, one language
construct per file): HTML with titles, numbered heading paths and boilerplate navigation
on every page. The 68 labelled queries were written from reading these pages before any
run, and were never used to choose a weight.

``apt-get download`` fetches the package without installing it and ``dpkg-deb -x`` unpacks
it, so the set can be rebuilt on any Debian-based machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "sqlite_queries.json"


def spec(path: Path = DATA) -> dict[str, object]:
    """The labelled set (corpus package and files, queries, off-topic queries)."""
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def build(out: Path, data: Path = DATA) -> Path:
    """Fetch ``sqlite3-doc`` and copy the listed pages into ``out``; returns ``out``."""
    corpus = spec(data)["corpus"]
    assert isinstance(corpus, dict)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pinned = f"{corpus['package']}={corpus['version']}"
        got = subprocess.run(["apt-get", "download", pinned], cwd=work, capture_output=True)
        if got.returncode != 0:  # the mirror moved on: the newest one, said so
            print(f"note: {pinned} is gone from the mirror; using the current version")
            subprocess.run(["apt-get", "download", str(corpus["package"])], cwd=work, check=True)
        deb = next(work.glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True)
        source = work / "x" / str(corpus["folder"])
        for name in corpus["files"]:
            shutil.copy2(source / name, out / name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("sqlite-docs"))
    args = parser.parse_args()
    print(build(args.out))


if __name__ == "__main__":
    main()
