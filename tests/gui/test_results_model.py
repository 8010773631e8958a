"""The results model passes Qt's model tester, also while rows move for a rerank."""

from __future__ import annotations

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.ui.protocols import ResultRow
from app.ui.results_model import PathRole, ResultsModel, plan_moves


def make_hits(n: int) -> list[ResultRow]:
    return [
        ResultRow(path=f"/d/f{i}.txt", score=1.0 - i / 10, snippet=f"text {i}") for i in range(n)
    ]


def test_model_tester_on_reset_and_moves(qtmodeltester: ModelTester) -> None:
    model = ResultsModel()
    qtmodeltester.check(model)
    model.set_hits(make_hits(6))
    qtmodeltester.check(model)
    model.reorder(list(reversed(make_hits(6))), animate=False)
    qtmodeltester.check(model)
    assert model.data(model.index(0), PathRole) == "/d/f5.txt"


def test_animated_reorder_ends_in_target_order(qtbot: QtBot) -> None:
    model = ResultsModel(step_ms=5)
    model.set_hits(make_hits(5))
    target = [make_hits(5)[i] for i in (3, 0, 4, 1, 2)]
    with qtbot.waitSignal(model.reorder_finished, timeout=2000):
        model.reorder(target, animate=True)
    assert [h.path for h in model.hits()] == [h.path for h in target]


def test_new_results_during_animation_win(qtbot: QtBot) -> None:
    model = ResultsModel(step_ms=50)
    model.set_hits(make_hits(5))
    model.reorder(list(reversed(make_hits(5))), animate=True)
    model.set_hits(make_hits(2))
    assert [h.path for h in model.hits()] == ["/d/f0.txt", "/d/f1.txt"]


def test_plan_moves_is_minimal_for_sorted_input() -> None:
    assert plan_moves(["a", "b", "c"], ["a", "b", "c"]) == []
    moves = plan_moves(["a", "b", "c"], ["c", "a", "b"])
    assert moves == [(2, 0)]


def test_mail_and_ocr_rows_say_what_they_are(qtbot: QtBot) -> None:
    from PySide6.QtCore import Qt

    from app.results import Passage, Result
    from app.ui.results_model import LocationRole
    from app.ui.rows import to_row
    from storage.models import DocumentInfo

    def result(path: str, *, ocr: bool = False, document: DocumentInfo | None = None) -> Result:
        scores: dict[str, float | None] = {}
        passage = Passage(path, (1,), 0, 0, 4, 3, None, "text", 0.5, scores, "text", ocr=ocr)
        return Result(path, 0.5, (passage,), document=document)

    anna = DocumentInfo(
        7, "120", "Harbour fees", "Anna Berg <anna@example.org>", "", "2024-03-02T14:05"
    )
    model = ResultsModel()
    model.set_hits([to_row(result("/m/archive.mbox", document=anna)),
                    to_row(result("/s/scan.pdf", ocr=True))])  # fmt: skip
    first, second = model.index(0), model.index(1)
    assert first.data(Qt.ItemDataRole.DisplayRole) == (
        "Harbour fees · mail from Anna Berg on 2024-03-02"
    )
    assert second.data(Qt.ItemDataRole.DisplayRole) == "scan.pdf"
    assert second.data(LocationRole) == "p. 3 · OCR" and "OCR" not in first.data(LocationRole)


def test_mail_preview_is_the_message_with_its_headers() -> None:
    from app.preview import document_text
    from storage.models import Chunk

    parts = ["Subject: Harbour fees\nFrom: Anna", "Dear team,", "the berth costs", "forty crowns"]
    chunks, at = [], 0
    for i, text in enumerate(parts):
        chunks.append(Chunk(i, 1, "/m/archive.mbox", i, text, at, at + len(text), "h", doc_id=7))
        at += len(text) + 1
    doc = document_text(chunks, (chunks[3].start, chunks[3].end), "forty", at)
    assert doc.text.startswith("Subject: Harbour fees\nFrom: Anna")
    start, end = doc.matches[0]
    assert doc.text[start:end].lower() == "forty"
