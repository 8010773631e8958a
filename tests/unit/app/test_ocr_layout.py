"""Reading order of OCR boxes: columns, paragraphs, tilt, CJK joining (no engine needed)."""

from __future__ import annotations

import math

from app.extract.ocr.layout import Box, join_words, reading_order
from app.extract.pdf import garbled


def box(x: float, y: float, text: str, w: float = 0, h: float = 20, tilt: float = 0) -> Box:
    """A text-line box at (x, y); ``tilt`` in degrees turns it about its top-left corner."""
    w = w or 10 * len(text)
    cos, sin = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    points = tuple((x + cx * cos - cy * sin, y + cx * sin + cy * cos) for cx, cy in corners)
    return Box(points, text, 0.99)


def test_two_columns_read_column_by_column() -> None:
    left = [box(10, 100 + 30 * i, f"left {i}") for i in range(4)]
    right = [box(400, 100 + 30 * i, f"right {i}") for i in range(4)]
    text = reading_order(right + left)  # detectors return them in any order
    assert text == "\n".join(f"left {i}" for i in range(4)) + "\n\n" + "\n".join(
        f"right {i}" for i in range(4)
    )


def test_title_above_two_columns() -> None:
    boxes = [box(10, 10, "a title that spans both columns", w=600)]
    boxes += [box(10, 80 + 30 * i, f"l{i}") for i in range(3)]
    boxes += [box(400, 80 + 30 * i, f"r{i}") for i in range(3)]
    assert reading_order(boxes).split() == ["a", "title", "that", "spans", "both", "columns",
                                             "l0", "l1", "l2", "r0", "r1", "r2"]  # fmt: skip


def test_paragraph_gap_becomes_blank_line() -> None:
    boxes = [box(10, 0, "one"), box(10, 30, "two"), box(10, 120, "three")]
    assert reading_order(boxes) == "one\ntwo\n\nthree"


def test_tilted_page_keeps_lines() -> None:
    """Boxes of a page tilted 4 degrees overlap in height; their order must survive."""
    words = [f"line{i}" for i in range(8)]
    boxes = []
    for i, word in enumerate(words):
        y = 40 * i
        boxes.append(box(10 - y * math.sin(math.radians(4)), y, word + " start", w=300, tilt=4))
    assert [w for w in reading_order(boxes).split() if w != "start"] == words


def test_pieces_of_one_line_are_joined_left_to_right() -> None:
    assert reading_order([box(200, 0, "world"), box(10, 2, "hello")]) == "hello world"


def test_cjk_joined_without_spaces() -> None:
    assert join_words(["港口", "办公室", "ledger", "日志"]) == "港口办公室 ledger 日志"


def test_empty_boxes_give_no_text() -> None:
    assert reading_order([]) == ""
    assert reading_order([box(0, 0, "   ")]) == ""


def test_garbled_text_layer_detected() -> None:
    assert garbled("\ue001\ue002\ue003 \ue004\ufffd\ufffd ▲▼◆ a")
    assert not garbled("An ordinary page of text, with 12 numbers and (punctuation).")
    assert not garbled("港口办公室保存着一本日志")
