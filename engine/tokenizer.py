"""The model's own tokenizer, exposing exact character spans for the chunker.

Wraps a ``tokenizers.Tokenizer`` (the Rust library every backend can load without torch).
Offsets are indices into the Python ``str`` (code points), so the chunker can slice
``text[start:end]`` directly, including for CJK and emoji.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ModelLoadError

if TYPE_CHECKING:
    import tokenizers


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
        for start, end in self.inner.encode(text, add_special_tokens=False).offsets:
            start = max(start, last_end)
            end = max(end, start)
            spans.append((start, end))
            last_end = end
        return spans

    def count(self, text: str) -> int:
        """Tokens ``text`` costs, without special tokens."""
        return len(self.inner.encode(text, add_special_tokens=False).ids)

    def token_id(self, token: str) -> int | None:
        """The id of a (special) token, or None when the vocabulary lacks it."""
        found: int | None = self.inner.token_to_id(token)
        return found
