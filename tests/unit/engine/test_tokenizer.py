"""Token spans are exact character offsets into the Python string."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.protocols import Tokenizer
from engine.tokenizer import HFTokenizer

TEXTS = [
    "Hello world, this is Quarry.",
    "日本語のテキストと中文文本。",
    "emoji 😀👍🏽 family 👨‍👩‍👧 and naïve café",
    "rare CJK 𠜎𠜱 and tabs\tand\r\nnewlines",
    "",
]


@pytest.fixture(scope="module")
def qwen(tiny_embedding_dir: Path) -> HFTokenizer:
    return HFTokenizer.from_folder(tiny_embedding_dir)


def _check_spans(tok: HFTokenizer, text: str) -> list[tuple[int, int]]:
    spans = tok.token_spans(text)
    assert len(spans) == tok.count(text)
    last = 0
    for start, end in spans:
        assert last <= start <= end <= len(text)
        last = end
    return spans


@pytest.mark.parametrize("text", TEXTS)
def test_qwen_spans_tile_the_text(qwen: HFTokenizer, text: str) -> None:
    """Byte-level BPE covers every character, so the spans concatenate to the text."""
    spans = _check_spans(qwen, text)
    assert "".join(text[s:e] for s, e in spans) == text


def test_qwen_known_ids_and_protocol(qwen: HFTokenizer) -> None:
    assert isinstance(qwen, Tokenizer)
    assert qwen.encode("Hello world,") == [9707, 1879, 11]
    assert qwen.encode("Hello", special=True)[-1] == 151643  # post-processor appends EOS
    assert qwen.count("Hello world,") == 3  # specials never counted
    assert qwen.token_id("yes") == 9693 and qwen.token_id("no") == 2152


def test_cjk_spans_point_at_characters(qwen: HFTokenizer) -> None:
    text = "abc 日本語"
    pieces = [text[s:e] for s, e in qwen.token_spans(text)]
    assert "".join(pieces) == text and any("日" in p for p in pieces)


def test_wordpiece_spans(starter_model_dir: Path) -> None:
    tok = HFTokenizer.from_folder(starter_model_dir)
    text = "Héllo WORLD, naïve 日本"
    spans = _check_spans(tok, text)
    assert [text[s:e] for s, e in spans] == ["Héllo", "WORLD", ",", "naïve", "日", "本"]
    # the bundled tokenizer.json pads/truncates to 128; ours must not
    long_text = "word " * 300
    assert tok.count(long_text) == 300


def _mixed_text(lines: int, seed: int = 1) -> str:
    """Prose, code, CJK, emoji and odd whitespace on many lines (> one encode piece)."""
    import random

    rng = random.Random(seed)
    words = ["hello", "  indented", "\tTab", "def f(x):", "    return x", "naïve", "日本語の",
             "中文字符", "🦉", "x = 1;", "", "  ", "Über", "—", "1234567"]  # fmt: skip
    return "\n".join(" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(lines))


@pytest.mark.parametrize("name", ["qwen", "starter"])
def test_long_texts_encode_in_pieces_with_the_same_tokens(
    name: str, qwen: HFTokenizer, starter_model_dir: Path
) -> None:
    """Pieces cut before a line's first character give exactly one encode's tokens, and the
    library's batch encoder releases the GIL (one 10 MB ``encode`` held it for 21 s)."""
    from engine.tokenizer import PIECE_CHARS

    tok = qwen if name == "qwen" else HFTokenizer.from_folder(starter_model_dir)
    text = _mixed_text(4000)
    assert len(text) > 3 * PIECE_CHARS
    whole, last = [], 0
    for start, end in tok.inner.encode(text, add_special_tokens=False).offsets:
        start = max(start, last)
        whole.append((start, max(end, start)))
        last = whole[-1][1]
    assert tok.token_spans(text) == whole
