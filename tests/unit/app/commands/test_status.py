"""``quarry status`` on real index files: read-only by default, --check, --vacuum, bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.cli import main
from storage.store import Store
from tests.fixtures.store import write


@pytest.fixture
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index.sqlite3"
    with Store.open(path) as s:
        write(s, "/d/a.txt", ["alpha beta", "gamma"])
        write(s, "/d/b.txt", ["delta"])
        s.delete_file("/d/b.txt")  # leaves one orphan vector for --vacuum
    return path


def _status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc = main(["status", "--json", *argv])
    return rc, json.loads(capsys.readouterr().out)


def test_plain_status_opens_read_only(
    index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[bool] = []
    real_open = Store.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Store], path: Path | str, *, readonly: bool = False) -> Store:
        modes.append(readonly)
        return real_open(cls, path, readonly=readonly)  # type: ignore[no-any-return]

    monkeypatch.setattr(Store, "open", classmethod(spy))
    rc, report = _status(capsys, "--db", str(index))
    assert rc == 0 and modes == [True]
    assert report["chunks"] == 2 and report["files"]["ok"] == 1
    assert report["integrity"] is None and report["fingerprint"]["model_id"] == "test/model"


def test_check_reports_healthy_index(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, report = _status(capsys, "--db", str(index), "--check")
    assert rc == 0 and report["integrity"] == []


def test_vacuum_prunes_orphan_vectors(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(index, readonly=True) as s:
        before = s.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    rc, report = _status(capsys, "--db", str(index), "--vacuum", "--check")
    assert rc == 0 and report["vacuum_saved_bytes"] >= 0 and report["integrity"] == []
    assert (before, report["embeddings"]) == (3, 2)


def test_text_output_and_missing_index(
    index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--db", str(index), "--check"]) == 0
    out = capsys.readouterr().out
    assert "chunks: 2" in out and "integrity: ok" in out
    assert main(["status", "--db", str(tmp_path / "none.sqlite3")]) == 0
    assert "No index yet" in capsys.readouterr().out


def test_damaged_file_is_a_calm_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database at all" * 200)
    for extra in ([], ["--check"]):
        assert main(["status", "--db", str(bad), *extra]) == 1
        assert "quarry status:" in capsys.readouterr().err


def test_check_while_another_writer_holds_the_lock(
    index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.connection

    monkeypatch.setattr(storage.connection, "BUSY_TIMEOUT_MS", 50)
    with Store.open(index) as writer, writer.transaction():
        rc, report = _status(capsys, "--db", str(index), "--check")
        assert rc == 0 and report["integrity"] == [] and "another Quarry" in report["note"]
        assert main(["status", "--db", str(index), "--vacuum"]) == 1
        assert "busy" in capsys.readouterr().err


def test_status_names_both_phases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storage.models import NewChunk
    from tests.fixtures.store import FP

    path = tmp_path / "two-phase.sqlite3"
    with Store.open(path) as s:
        write(s, "/d/done.txt", ["alpha beta"])  # phase 2 done (vectors given)
        for name in ("a", "b"):  # phase 1 only: keyword-searchable, waiting for vectors
            chunks = [NewChunk(0, f"{name} text", 0, 6, f"h:{name}", token_count=950_000)]
            s.write_file(f"/d/{name}.txt", size=1, mtime=1.0, content_hash=name,
                         chunks=chunks, fingerprint=FP)  # fmt: skip
        work = s.embedding_work(FP, max_chunks=1)  # a batch that stored no vector yet
        s.add_vectors(FP, [], np.zeros((0, FP.dim)), work.file_ids, tokens_per_s=1_900.0)
    assert main(["status", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "3 files searchable by keyword · 1 by meaning · about 16 min left at 1,900 tokens/s" in out
    )
    assert "waiting for vectors: 2 files, 2 chunks, 1,900,000 tokens" in out
    rc, report = _status(capsys, "--db", str(path))
    assert rc == 0 and (report["keyword_files"], report["meaning_files"]) == (3, 1)
    assert report["backlog"] == {"files": 2, "chunks": 2, "tokens": 1_900_000}
    assert report["embed_tokens_per_s"] == 1_900.0
