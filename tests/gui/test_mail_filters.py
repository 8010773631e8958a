"""The filter bar narrows to mail and by sender: the visible "Mail" type and the From
field, over a real index holding an mbox, an .eml and a text file (starter model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from tests.fixtures import mail
from tests.fixtures.documents import build_document_index
from tests.fixtures.window import pick, starter_window


@pytest.fixture(scope="module")
def mail_index(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("mailgui")
    docs = root / "docs"
    docs.mkdir()
    mail.write_mbox(docs / "Inbox", mail.messages(20))
    anna = mail.message("Harbour fees for March", "Anna Berg <anna@example.org>",
                        "The berth costs forty crowns a night; an update on the fees.")  # fmt: skip
    (docs / "fees.eml").write_bytes(bytes(anna))
    (docs / "notes.txt").write_text("Notes about the harbour update and the fees.\n")
    build_document_index(docs, root / "index.sqlite3", starter_model_dir, root / "home")
    return root / "index.sqlite3"


@pytest.fixture
def window(qtbot: QtBot, mail_index: Path, starter_model_dir: Path) -> Iterator[MainWindow]:
    docs = mail_index.parent / "docs"
    yield from starter_window(qtbot, docs, mail_index, starter_model_dir)


def _results(qtbot: QtBot, window: MainWindow, act: object) -> list[ResultRow]:
    with qtbot.waitSignal(window.worker.results_ready, timeout=60000) as got:
        act()  # type: ignore[operator]
    return list(got.args[1])


def test_mail_type_and_sender_narrow_a_real_search(qtbot: QtBot, window: MainWindow) -> None:
    rows = _results(qtbot, window, lambda: qtbot.keyClicks(window.search_field, "update"))
    assert "notes.txt" in {Path(r.path).name for r in rows} and any(r.mail for r in rows)

    bar = window.filters
    assert bar.mail_from.isVisible() and bar.file_type.findText("Mail") > 0
    rows = _results(qtbot, window, lambda: pick(qtbot, bar.file_type, "Mail"))
    assert bar.file_type.currentText() == "Mail"
    assert rows and all(r.mail for r in rows), [r.path for r in rows]
    assert len({r.doc_id for r in rows}) > 3  # messages of the mbox, each its own row

    rows = _results(qtbot, window, lambda: qtbot.keyClicks(bar.mail_from, "sender7@"))
    assert rows and all("subj7" in r.mail for r in rows), [r.mail for r in rows]
    assert window.search_field.text() == "update"  # the field is a filter of its own

    # The query's from: shows in the field (and filters once, through the query).
    bar.mail_from.clear()
    window.search_field.clear()
    rows = _results(
        qtbot, window, lambda: qtbot.keyClicks(window.search_field, "fees from:anna@example")
    )
    assert bar.mail_from.text() == "anna@example"
    assert [Path(r.path).name for r in rows] == ["fees.eml"] and "Harbour fees" in rows[0].mail
    window.search_field.clear()
    assert bar.mail_from.text() == ""  # the query dropped from:, so the field did
