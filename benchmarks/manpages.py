"""The multilingual benchmark corpus: Debian's translated manual pages, rendered to text.

    python benchmarks/manpages.py [--out DIR]     # fetch, extract, render; prints the folder

The same command pages (coreutils, procps, util-linux, findutils, grep, sed, tar, gzip)
ship in English with their own Debian packages and translated in ``manpages-de``,
``manpages-fr``, ``manpages-ja`` and ``manpages-zh`` (zh_CN): 116 pages in each of English,
German, French, Japanese and Chinese. They are real documents
written by people, parallel across languages, and every Debian mirror serves them, so the
set can be rebuilt anywhere: ``apt-get download`` fetches the packages (no root install, so
images that exclude /usr/share/man still work), ``dpkg-deb -x`` unpacks them, and groff
renders each page (``-k`` recodes the input, ``-t`` lays out tables; a very long line
length keeps paragraphs on one line so CJK words are not cut at a wrap).

Only the pages named in ``benchmarks/data/multilingual_queries.json`` (``commands``) are
rendered, as ``<out>/<lang>/<command>.<section>.txt``. The package versions used for the
published figures are listed there too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "multilingual_queries.json"
PACKAGES = [
    "manpages-de",
    "manpages-fr",
    "manpages-ja",
    "manpages-zh",
    "coreutils",
    "procps",
    "util-linux",
    "findutils",
    "grep",
    "sed",
    "tar",
    "gzip",
    "manpages",  # iconv.1 (the Linux man-pages project)
]
# Quarry's language code -> the folder under /usr/share/man ("" is the untranslated one).
MAN_DIRS = {"en": "", "de": "de", "fr": "fr", "ja": "ja", "zh": "zh_CN"}
_SPACES = re.compile(r"[ \t]{2,}")
# groff joins source lines with a space; between two CJK characters that space was a line
# break in the translator's file, not in the text, so it is dropped again.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u3000-\u303f"
_JOIN = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")


def spec(path: Path = DATA) -> dict[str, object]:
    """The labelled set (commands, packages, queries)."""
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def extract(packages: list[str], root: Path) -> None:
    """``apt-get download`` the packages into ``root`` and unpack them there."""
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *packages], cwd=debs, check=True, capture_output=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "tree")], check=True)


def render(page: Path) -> str:
    """A man page as plain UTF-8 text, one paragraph per line, runs of spaces squeezed."""
    source = gzip.decompress(page.read_bytes()) if page.suffix == ".gz" else page.read_bytes()
    out = subprocess.run(
        ["groff", "-k", "-t", "-Tutf8", "-man", "-rLL=4000n", "-P-cbou"],
        input=source,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", errors="replace")
    lines = (_JOIN.sub("", _SPACES.sub(" ", line)).strip() for line in out.splitlines())
    return "\n".join(line for line in lines if line) + "\n"


def find_page(man_root: Path, lang: str, command: str) -> Path | None:
    """``<command>.<section>.gz`` in the language's man1/man8, following ``.so`` links."""
    base = man_root / MAN_DIRS[lang] if MAN_DIRS[lang] else man_root
    for section in ("man1", "man8"):
        for page in sorted((base / section).glob(f"{command}.gz")):
            head = gzip.decompress(page.read_bytes())[:200].decode("utf-8", "replace")
            if head.startswith(".so "):  # a redirect such as `.so man1/gzip.1`
                target = head.split()[1].split("/")[-1]
                return find_page(man_root, lang, target)
            return page
    return None


def build(out: Path, work: Path | None = None) -> Path:
    """Fetch, unpack and render every listed page into ``out``; returns ``out``."""
    data = spec()
    commands = [str(c) for c in data["commands"]]  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        root = work or Path(tmp)
        if not (root / "tree").exists():
            extract(PACKAGES, root)
        man_root = root / "tree" / "usr" / "share" / "man"
        for lang in MAN_DIRS:
            folder = out / lang
            folder.mkdir(parents=True, exist_ok=True)
            for command in commands:
                page = find_page(man_root, lang, command)
                if page is None:
                    raise SystemExit(f"{lang}: no page for {command}")
                (folder / f"{command}.txt").write_text(render(page), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("manpages-corpus"))
    parser.add_argument("--work", type=Path, default=None, help="keep the unpacked packages here")
    args = parser.parse_args()
    if shutil.which("groff") is None or shutil.which("apt-get") is None:
        raise SystemExit("needs Debian's apt-get and groff (apt-get install groff-base)")
    print(build(args.out, args.work))


if __name__ == "__main__":
    main()
