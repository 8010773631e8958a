"""Zip containers (DOCX, PPTX, XLSX, ODT, EPUB) read under inflate limits.

A 131 KB EPUB can inflate to gigabytes. The sizes a zip declares can lie, so every member
is measured while it inflates, block by block, and refused the moment it passes the
per-member or the per-file total limit: a bomb costs one block of memory, not its full size.
Members read as text (XML, XHTML) that are mostly NUL bytes are binary data posing as text
and are refused at their first block. The central directory itself is bounded too (entry
count read from the end-of-central-directory record before ``zipfile`` parses it).
"""

from __future__ import annotations

import contextlib
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from app.extract.errors import Corrupt, Encrypted, TooLarge, Unsupported

#: Largest inflated size of one member; real document XML stays far below it.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
#: Largest inflated size of all members read from one file together.
MAX_TOTAL_BYTES = 256 * 1024 * 1024
#: Members a reader streams (spreadsheet rows) may be larger: their size costs no memory.
MAX_STREAMED_BYTES = 256 * 1024 * 1024
#: More members than any real document has; beyond it ``zipfile`` itself would use GBs.
MAX_ENTRIES = 50_000
#: Share of NUL bytes above which a "text" member is binary data.
NUL_SHARE = 0.01
_BLOCK = 1 << 20
_TEXT_SUFFIXES = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".txt")
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def is_text_member(name: str) -> bool:
    """Members parsed as markup; NUL bytes in them mean binary data, not text."""
    return name.lower().endswith(_TEXT_SUFFIXES) or name == "mimetype"


def nul_heavy(data: bytes | str) -> bool:
    """True when more than ``NUL_SHARE`` of ``data`` is NUL: binary, whatever it claims."""
    zero: bytes | str = b"\0" if isinstance(data, bytes) else "\0"
    return len(data) > 0 and data.count(zero) > NUL_SHARE * len(data)  # type: ignore[arg-type]


class InflateBudget:
    """What one file may still inflate: a per-member cap and a shrinking total."""

    def __init__(self, member_cap: int = MAX_MEMBER_BYTES, total_cap: int = MAX_TOTAL_BYTES):
        self.member_cap = member_cap
        self.total_cap = total_cap
        self.left = total_cap

    def _take(self, name: str, so_far: int, block: bytes, text: bool, cap: int) -> None:
        """Charge one inflated block; raise as soon as a limit or the NUL rule is broken."""
        if so_far + len(block) > cap:
            raise TooLarge(f"{name} inflates to more than {_mb(cap)} (zip bomb?)")
        if len(block) > self.left:
            raise TooLarge(f"the archive inflates to more than {_mb(self.total_cap)} (zip bomb?)")
        self.left -= len(block)
        if text and nul_heavy(block):
            raise Unsupported(f"binary data in {name} (NUL bytes where text belongs)")

    def read(
        self, archive: zipfile.ZipFile, name: str, *, keep: bool = True, cap: int | None = None
    ) -> bytes:
        """Inflate member ``name`` block by block under the limits; ``keep=False`` discards.

        ``cap`` replaces the per-member cap for this member (streamed members).
        """
        text = is_text_member(name)
        parts: list[bytes] = []
        size = 0
        with zip_errors(), archive.open(name) as member:
            while block := member.read(_BLOCK):
                self._take(name, size, block, text, cap or self.member_cap)
                size += len(block)
                if keep:
                    parts.append(block)
        return b"".join(parts)


@contextlib.contextmanager
def zip_errors() -> Iterator[None]:
    """Map ``zipfile``/``zlib`` failures of a damaged container to our error tree."""
    try:
        yield
    except KeyError as exc:
        raise Corrupt(f"missing member: {exc}") from exc
    except RuntimeError as exc:  # zipfile's way of saying "encrypted member"
        if "encrypt" in str(exc).lower():
            raise Encrypted("password-protected archive") from exc
        raise Corrupt(f"damaged zip container: {exc}") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        raise Corrupt(f"damaged zip container: {exc}") from exc
    except (NotImplementedError, ValueError) as exc:  # unknown compression, bad header
        raise Corrupt(f"damaged zip container: {exc}") from exc


def entry_count(path: Path) -> int | None:
    """Members listed in the end-of-central-directory record; None when there is none."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        tail_len = min(size, 65_557)  # the record (22 bytes) plus the longest comment
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        return None
    count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if count == 0xFFFF and tail.rfind(_EOCD64_LOCATOR, 0, at) >= 0:
        return MAX_ENTRIES + 1  # zip64 with 65,535+ members: far beyond any document
    return int(count)


def open_archive(path: Path) -> zipfile.ZipFile:
    """``ZipFile(path)`` once the member count is known to be sane."""
    count = entry_count(path)
    if count is not None and count > MAX_ENTRIES:
        raise TooLarge(f"zip container lists {count:,} members (more than {MAX_ENTRIES:,})")
    with zip_errors():
        return zipfile.ZipFile(path)


def read_member(path: Path, name: str, budget: InflateBudget) -> bytes:
    """One member of the zip at ``path``, inflated under ``budget``."""
    with open_archive(path) as archive:
        return budget.read(archive, name)


def check_archive(path: Path, streamed: Callable[[str], bool] = lambda name: False) -> None:
    """Inflate every member once (discarding it) to prove the file is no bomb.

    For containers a library reads by itself (python-docx loads every part into memory):
    the check costs one streaming pass and stops at the first block over a limit.
    Members the library streams (``streamed``) may reach ``MAX_STREAMED_BYTES``, and the
    total has room for that much on top of ``MAX_TOTAL_BYTES``.
    """
    budget = InflateBudget(total_cap=MAX_TOTAL_BYTES + MAX_STREAMED_BYTES)
    with open_archive(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            cap = MAX_STREAMED_BYTES if streamed(info.filename) else None
            budget.read(archive, info.filename, keep=False, cap=cap)
