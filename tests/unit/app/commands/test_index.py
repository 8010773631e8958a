"""``quarry index`` with the real starter model: settings, --model/--db, notice, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import settings
from app.cli import main
from storage.store import Store

BROKEN_PDF = b"%PDF-1.4\n1 0 obj<<>>\nstream\nxx"


def _index(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    rc = main(["index", "--json", "--workers", "1", *argv])
    out, err = capsys.readouterr()
    return rc, json.loads(out.strip().splitlines()[-1]), err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The lighthouse keeper logs every passing ship.")
    return docs


def test_model_and_db_are_honoured(
    folder: Path, tmp_path: Path, starter_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "elsewhere.sqlite3"
    rc, summary, err = _index(
        capsys, str(folder), "--model", str(starter_model_dir), "--db", str(db)
    )
    assert rc == 0 and summary["ok"] == 1
    assert "starter" not in err.lower()
    with Store.open(db, readonly=True) as store:
        fingerprint = store.fingerprint()
    assert fingerprint is not None and fingerprint.dim == 384


def test_settings_are_read_and_starter_notice_goes_to_stderr(
    folder: Path,
    tmp_path: Path,
    starter_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import engine.resolve

    notice = "No Qwen3 embedding model found; using the starter model."
    monkeypatch.setattr(
        engine.resolve, "default_embedding_spec", lambda: (str(starter_model_dir), notice)
    )
    settings.save(settings.Settings(exclude=["**/skip-*"]))
    (folder / "skip-me.txt").write_text("excluded by the saved settings")
    db = tmp_path / "index.sqlite3"
    rc, summary, err = _index(capsys, str(folder), "--db", str(db))
    assert rc == 0 and summary["ok"] == 1
    assert notice in err


def test_exit_1_only_for_failures_of_this_run(
    folder: Path, tmp_path: Path, starter_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.pdf").write_bytes(BROKEN_PDF)
    args = (str(folder), "--model", str(starter_model_dir), "--db", str(tmp_path / "i.sqlite3"))
    rc, first, _ = _index(capsys, *args)
    assert rc == 1 and first["failed"] == 1 and first["failed_again"] == 0
    rc, again, _ = _index(capsys, *args)  # retried, same bytes, same failure: already reported
    assert rc == 0 and again["failed"] == 1 and again["failed_again"] == 1
    assert again["problems"][0]["path"].endswith("bad.pdf")
    (folder / "bad.pdf").write_bytes(BROKEN_PDF + b"more")  # a new version that fails anew
    rc, changed, _ = _index(capsys, *args)
    assert rc == 1 and changed["failed"] == 1 and changed["failed_again"] == 0


def test_download_flag_with_unreachable_hub_is_one_clear_line(
    folder: Path, tmp_path: Path, unreachable_hub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--download`` with the hub out of reach: exit 2, one line naming what to get (no fallback)."""
    db = tmp_path / "index.sqlite3"
    spec = "Qwen/Qwen3-Embedding-0.6B"
    rc = main(["index", str(folder), "--model", spec, "--db", str(db), "--download"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quarry: Could not download")
    assert f"cannot reach {unreachable_hub}" in lines[0] and f"hf download {spec}" in lines[0]
    # without --download nothing goes online: the same one-line advice, from the cache check
    rc = main(["index", str(folder), "--model", spec, "--db", str(db)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "not in the Hugging Face cache" in err


def test_saved_window_consent_does_not_apply_to_the_cli(
    folder: Path, tmp_path: Path, unreachable_hub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.save(settings.Settings(allow_download=True))
    rc = main(["index", str(folder), "--model", "Qwen/Qwen3-Embedding-0.6B"])
    err = capsys.readouterr().err
    assert rc == 2 and "not in the Hugging Face cache" in err and "cannot reach" not in err


def test_watch_and_search_accept_download(
    unreachable_hub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.save(settings.Settings(embed_model="Qwen/Qwen3-Embedding-0.6B"))
    rc = main(["search", "--download", "lighthouse"])
    err = capsys.readouterr().err
    assert rc == 1 and f"cannot reach {unreachable_hub}" in err
    with pytest.raises(SystemExit) as help_exit:
        main(["watch", "--help"])
    assert help_exit.value.code == 0
    assert "--download" in capsys.readouterr().out


def test_installed_command_runs_both_phases_and_status_says_so(
    folder: Path, tmp_path: Path, starter_model_dir: Path
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    quarry = shutil.which("quarry", path=str(Path(sys.executable).parent))
    assert quarry is not None
    (folder / "b.md").write_text("# Owls\n\nBarn owls hunt voles after dusk.\n")
    db = tmp_path / "cli.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])}

    def quarry_run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [quarry, *argv], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    done = quarry_run("index", str(folder), "--db", str(db), "--model", str(starter_model_dir),
                      "--workers", "1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"] == 2 and summary["embedded"] >= 2 and summary["waiting_for_vectors"] == 0
    status = quarry_run("status", "--db", str(db))
    assert status.returncode == 0, status.stderr
    assert "2 files searchable by keyword · all by meaning" in status.stdout


def test_progress_line_shows_reading_then_both_phases() -> None:
    from app.commands.index import progress_line
    from app.indexer import Progress

    reading = Progress("running", 3, 10, 3, 0, 0, 30, 0, 0.0, None, keyword_files=3,
                       embedding="waiting")  # fmt: skip
    assert progress_line(reading) == (
        "\r[#########.....................] reading 3/10 files · 3 files searchable by keyword"
        " · 0 by meaning · embedding starts once new files are read"
    )
    embedding = Progress("idle", 10, 10, 10, 0, 0, 100, 40, 1_900.0, None, keyword_files=10,
                         meaning_files=4, backlog_tokens=3_420_000, embedding="running")  # fmt: skip
    assert progress_line(embedding).endswith(
        "] 10 files searchable by keyword · 4 by meaning · about 30 min left at 1,900 tokens/s"
    )
