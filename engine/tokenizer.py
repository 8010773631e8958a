"""The model's own tokenizer, exposing exact character spans for the chunker.

Wraps a ``tokenizers.Tokenizer`` (the Rust library every backend can load without torch).
Offsets are indices into the Python ``str`` (code points), so the chunker can slice
``text[start:end]`` directly, including for CJK and emoji. Long texts are encoded in
line-aligned pieces through the batch encoder, which lets other threads run meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ModelLoadError

if TYPE_CHECKING:
    import tokenizers

#: Texts longer than this are encoded in line-aligned pieces (see ``token_spans``).
PIECE_CHARS = 32_768
_LINE_START = re.compile(r"\n(?=\S)")  # a line break followed by a non-space character


def _pieces(text: str, size: int = PIECE_CHARS) -> Iterator[tuple[int, str]]:
    """(offset, piece) cuts of ``text`` about ``size`` characters long.

    Each cut falls just before the first character of a line, where no tokenizer we use
    (WordPiece, Qwen's byte-level BPE: both split at whitespace, and a word carries at most
    one leading space) joins characters across, so the pieces' tokens are the text's. A
    text without such a place in reach is not cut there.
    """
    start = 0
    while len(text) - start > size:
        found = _LINE_START.search(text, start + size // 2, start + size)
        if found is None:
            found = _LINE_START.search(text, start + size)
            if found is None:
                break
        yield start, text[start : found.start() + 1]
        start = found.start() + 1
    yield start, text[start:]


class HFTokenizer:
    """A ``tokenizers.Tokenizer`` with padding/truncation off: callers decide both."""

    def __init__(self, inner: tokenizers.Tokenizer) -> None:
        inner.no_padding()
        inner.no_truncation()
        self.inner = inner

    @classmethod
    def from_folder(cls, folder: Path) -> HFTokenizer:
        """Load ``tokenizer.json`` from a HF model folder."""
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json"
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as exc:  # missing file, or a format this tokenizers cannot read
            raise ModelLoadError(f"Cannot load tokenizer {path}: {exc}") from exc

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids of ``text``; ``special`` applies the post-processor (CLS/SEP, EOS)."""
        ids: list[int] = self.inner.encode(text, add_special_tokens=special).ids
        return ids

    def encode_batch(self, texts: Sequence[str], *, special: bool = False) -> list[list[int]]:
        """Token ids of several texts, using the library's parallel batch encoder."""
        encodings = self.inner.encode_batch(list(texts), add_special_tokens=special)
        return [enc.ids for enc in encodings]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """One (start, end) per token, monotonic and non-overlapping.

        Byte-level BPE may split one rare character into several tokens that all report
        the same span; those after the first get an empty span at its end, so spans never
        overlap and ``len(spans) == count(text)`` still holds.
        """
        spans: list[tuple[int, int]] = []
        last_end = 0
        for start, end in self._offsets(text):
            start = max(start, last_end)
            end = max(end, start)
            spans.append((start, end))
            last_end = end
        return spans

    def _offsets(self, text: str) -> Iterator[tuple[int, int]]:
        """Token offsets of ``text``; big texts go through ``encode_batch`` in pieces.

        The library's single ``encode`` holds Python's GIL for the whole call: 21 s for a
        10 MB CJK file here, freezing the indexer's writer, the embedder and searches.
        ``encode_batch`` releases it (and uses every core), so the other threads go on.
        """
        if len(text) <= PIECE_CHARS:
            yield from self.inner.encode(text, add_special_tokens=False).offsets
            return
        cuts = list(_pieces(text))
        encodings = self.inner.encode_batch([p for _, p in cuts], add_special_tokens=False)
        for (base, _), encoding in zip(cuts, encodings, strict=True):
            for start, end in encoding.offsets:
                yield base + start, base + end

    def count(self, text: str) -> int:
        """Tokens ``text`` costs, without special tokens."""
        return len(self.inner.encode(text, add_special_tokens=False).ids)

    def token_id(self, token: str) -> int | None:
        """The id of a (special) token, or None when the vocabulary lacks it."""
        found: int | None = self.inner.token_to_id(token)
        return found
