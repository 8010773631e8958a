"""``quarry index`` on each hostile kind: bounded time and memory, a status and a reason.

Each case is a folder of two ordinary files plus one hostile file, indexed by the real CLI
in a subprocess under a 3 GB address-space limit. The bounds include the CLI's start-up
(a couple of seconds) and are generous for a busy 2-core machine; what each case used to
cost is in the issue's closing note (a 128 MB-inflating EPUB took 5.3 GB).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile import inputs
from tests.hostile.checks import assert_sane, chunks, records
from tests.hostile.runner import Quarry

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    """One hostile file: how to build it, the reason it must end with, the run's bounds."""

    build: Callable[[Path], Path]
    reason: str
    bound_s: float = 20.0
    peak_mb: float = 450.0


CASES = {
    "epub-nul-bomb": Case(lambda d: inputs.epub_nul_bomb(d / "book.epub"), "nul bytes"),
    "epub-text-bomb": Case(lambda d: inputs.epub_text_bomb(d / "novel.epub"), "inflates"),
    "docx-bomb": Case(lambda d: inputs.docx_bomb(d / "report.docx"), "inflates"),
    "pptx-bomb": Case(lambda d: inputs.pptx_bomb(d / "deck.pptx"), "inflates"),
    "xlsx-bomb": Case(lambda d: inputs.xlsx_bomb(d / "sheet.xlsx"), "inflates"),
    "odt-bomb": Case(lambda d: inputs.odt_bomb(d / "letter.odt"), "inflates"),
    "docx-memory-hog": Case(
        lambda d: inputs.docx_memory_hog(d / "huge.docx"), "too much memory", 30.0, 1024.0
    ),
    "fifo": Case(lambda d: inputs.fifo(d / "notes.txt"), "fifo"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_file_is_refused_with_a_reason(kind: str, quarry: Quarry, tmp_path: Path) -> None:
    case = CASES[kind]
    folder = tmp_path / "docs"
    normal = inputs.normal_files(folder)
    hostile = case.build(folder)
    run = quarry.index(folder, timeout=case.bound_s + 10)
    found = assert_sane(run, quarry.db, folder, case.bound_s)
    assert run.peak_mb < case.peak_mb, run.describe()
    assert all(found[str(p)].status == "ok" for p in normal), found
    record = found[str(hostile)]
    assert record.status in ("skipped", "failed"), record
    assert case.reason in (record.error or "").lower(), record


def test_pathological_markdown_heading_indexes_quickly(quarry: Quarry, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    heading = inputs.pathological_heading(folder / "weird.md")
    run = quarry.index(folder, timeout=30)
    found = assert_sane(run, quarry.db, folder, bound_s=20)
    assert found[str(heading)].status == "ok", found[str(heading)]


def test_one_long_line_becomes_bounded_chunks_and_search_stays_fast(
    quarry: Quarry, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    inputs.long_line(folder / "blob.txt")
    found = assert_sane(quarry.index(folder, timeout=40), quarry.db, folder, bound_s=30)
    assert found[str(folder / "blob.txt")].status == "ok"
    longest = max(len(c.text) for c in chunks(quarry.db))
    assert longest <= 16 * 512, longest  # the chunker's character cap for its token budget
    run = quarry.search("xxxxxxxx", timeout=30)
    assert run.rc == 0 and run.seconds < 8 and run.peak_mb < 600, run.describe()


def test_undecodable_file_name_is_indexed_under_its_exact_name(
    quarry: Quarry, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    odd = inputs.undecodable_name(folder, "Minutes of the rowing club meeting.")
    run = quarry.index(folder, timeout=30)
    found = assert_sane(run, quarry.db, folder, bound_s=20)
    assert found[str(odd)].status == "ok", found
    hits = quarry.search("rowing club minutes", timeout=30)
    assert hits.rc == 0, hits.describe()
    # Printed as the name's own bytes (as ls shows them): decoded back, the exact name.
    assert str(odd) in [hit["path"] for hit in json.loads(hits.out)], hits.out


def test_links_out_of_the_folder_are_never_read(quarry: Quarry, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0 the password file")
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    (folder / "shadow.txt").symlink_to(outside / "secret.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    quarry.configure(follow_symlinks=True)
    run = quarry.index(folder, timeout=30)
    found = assert_sane(run, quarry.db, folder, bound_s=20)
    assert not any("root:x:0" in c.text for c in chunks(quarry.db))
    assert all(r.status != "ok" for p, r in found.items() if "shadow" in p or "zero" in p)


def test_file_readable_again_after_chmod_is_indexed(quarry: Quarry, tmp_path: Path) -> None:
    if os.geteuid() == 0 and not Path("/proc/self/status").exists():
        pytest.skip("root, and no Linux capabilities to drop")
    quarry.unprivileged = True  # as root: without the right to read every file
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    locked = folder / "locked.txt"
    locked.write_text("The treasurer's report on the boat house roof.")
    locked.chmod(0)
    run = quarry.index(folder, timeout=30)
    found = assert_sane(run, quarry.db, folder, bound_s=20)
    assert "permission denied" in (found[str(locked)].error or ""), found[str(locked)]
    locked.chmod(0o644)
    run = quarry.index(folder, timeout=30)
    assert run.rc == 0, run.describe()
    assert records(quarry.db)[str(locked)].status == "ok"
