"""Fakes behind the window's protocols, for pure-UI tests (named Fake... on purpose).

They are deterministic and fast; tests that need real engines and stores use the real
backends (see test_real_services.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from app.phases import Progress
from app.search import SearchOptions
from app.ui.protocols import (
    CancelCheck,
    Preview,
    ProgressCallback,
    ResultRow,
    UpdateCallback,
)
from storage.models import ProblemFile

CORPUS = {
    "/docs/cats.md": "Cats are small domesticated carnivores that sleep most of the day.",
    "/docs/dogs.md": "Dogs are loyal companions; a dog needs walks every day.",
    "/docs/report.pdf": "Quarterly report: revenue grew, cats featured in the marketing plan.",
    "/docs/notes.txt": "Meeting notes about cats, dogs and the office plants.",
}


class FakeSearch:
    """Word-overlap search over a tiny corpus; rerank reverses the order (visibly)."""

    def __init__(
        self,
        corpus: dict[str, str] | None = None,
        rerank_delay: float = 0.0,
        *,
        weak: tuple[str, ...] = (),
        more: dict[str, list[str]] | None = None,
        headings: dict[str, str] | None = None,
    ) -> None:
        self.corpus = dict(corpus or CORPUS)
        self.headings = headings or {}  # path -> heading path (default "Intro")
        self.rerank_delay = rerank_delay
        self.weak = weak  # paths answered as weak matches
        self.more = more or {}  # path -> texts of its further passages
        self.queries: list[str] = []
        self.options: list[SearchOptions] = []
        self.similar_to: list[tuple[str, bool]] = []
        self.block = threading.Event()
        self.block.set()
        self.prepared = False
        self.closed = 0

    def search(self, query: str, options: SearchOptions) -> list[ResultRow]:
        self.block.wait(5)
        self.queries.append(query)
        self.options.append(options)
        words = [w for w in query.lower().split() if w]
        hits = []
        for path, text in self.corpus.items():
            low = text.lower()
            spans = [(low.find(w), low.find(w) + len(w)) for w in words if w in low]
            if spans and (
                not options.filters
                or not options.filters.extensions
                or path.endswith("." + options.filters.extensions[0])
            ):
                hits.append(
                    ResultRow(
                        path=path,
                        score=len(spans) / len(words) - len(hits) * 0.01,
                        snippet=text,
                        spans=tuple(spans),
                        page=1 if path.endswith(".pdf") else None,
                        heading=self.headings.get(path, "Intro"),
                        start=0,
                        end=len(text),
                        modified=1_700_000_000.0,
                        weak=path in self.weak,
                        more=tuple(
                            ResultRow(
                                path=path, score=0.1, snippet=t, start=100 * (i + 1), chunk=i + 1
                            )
                            for i, t in enumerate(self.more.get(path, []))
                        ),
                        level="high",
                    )
                )
        return hits

    def rerank(
        self,
        query: str,
        hits: Sequence[ResultRow],
        options: SearchOptions,
        on_update: UpdateCallback,
        is_cancelled: CancelCheck,
    ) -> list[ResultRow]:
        time.sleep(self.rerank_delay)
        if is_cancelled():
            return list(hits)
        n = len(hits)
        ranked = [
            replace(h, score=1.0 - i / n, scores={"rerank": 1.0 - i / n})
            for i, h in enumerate(reversed(hits))
        ]
        on_update(ranked)
        return ranked

    def preview(self, hit: ResultRow, span: tuple[int, int] | None = None) -> Preview:
        text = "Before the chunk.\n\n" + self.corpus[hit.path] + "\n\nAfter the chunk."
        offset = len("Before the chunk.\n\n")
        spans = tuple((s + offset, e + offset) for s, e in hit.spans)
        body = (offset, offset + len(self.corpus[hit.path]))
        return Preview(text=text, spans=spans, page=hit.page, heading=hit.heading, passage=body)

    def similar(self, hit: ResultRow, passage: bool = False) -> list[ResultRow]:
        """Every other file, as "similar" (the window's plumbing is what is tested)."""
        self.similar_to.append((hit.path, passage))
        return [
            ResultRow(path=p, score=0.5, snippet=t, modified=1_700_000_000.0)
            for p, t in self.corpus.items()
            if p != hit.path
        ]

    def presets(self) -> dict[str, str]:
        return {"web_search": "Given a web search query, retrieve relevant passages"}

    def prepare(self) -> None:
        self.prepared = True

    def uses_instruction(self) -> bool | None:
        return None

    def model_notice(self) -> str | None:
        return None

    def close(self) -> None:
        self.closed += 1


class FakeIndexer:
    """Reports ``steps`` progress events; honours pause/resume/cancel like the real one."""

    def __init__(self, steps: int = 5, delay: float = 0.02) -> None:
        self.steps = steps
        self.delay = delay
        self.running = threading.Event()
        self.running.set()
        self.cancelled = threading.Event()
        self.retried: list[str] = []
        self.rebuilt: list[int] = []
        self.promoted: list[tuple[str, int]] = []
        self.problems_error: Exception | None = None  # raised by problems()
        self._problems = [
            ProblemFile("/docs/broken.pdf", "skipped", "PDF is encrypted", 0),
            ProblemFile("/docs/huge.bin", "skipped", "binary file", 0),
            ProblemFile("/docs/locked.docx", "failed", "Permission denied", 1),
        ]

    def run(self, on_progress: ProgressCallback) -> None:
        for i in range(1, self.steps + 1):
            while not self.running.wait(0.02):
                if self.cancelled.is_set():
                    return
            if self.cancelled.is_set():
                return
            time.sleep(self.delay)
            on_progress(
                Progress(
                    "running", i, self.steps, chunks=i * 10, tokens_per_s=1500.0,
                    eta_s=(self.steps - i) * 0.1, keyword_files=i, meaning_files=i - 1, backlog_tokens=300, embedding="waiting",
                )
            )  # fmt: skip
        on_progress(Progress("idle", keyword_files=self.steps, meaning_files=self.steps))

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def cancel(self) -> None:
        self.cancelled.set()
        self.running.set()

    def promote(self, paths: Sequence[str], band: int) -> None:
        self.promoted.extend((p, band) for p in paths)

    def problems(self) -> list[ProblemFile]:
        if self.problems_error is not None:
            raise self.problems_error
        return list(self._problems)

    def retry(self, paths: Sequence[str]) -> None:
        self.retried.extend(paths)

    def rebuild(self, dimension: int, on_progress: ProgressCallback) -> None:
        on_progress(Progress("rebuilding", 0, 1))
        time.sleep(self.delay)
        self.rebuilt.append(dimension)
        on_progress(Progress("idle"))


class RecordingOpener:
    """Records open/reveal calls instead of launching applications."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.revealed: list[str] = []
        self.failure: str | None = None  # raised as OpenFailed by both, when set

    def open(self, path: str) -> None:
        self._fail()
        self.opened.append(path)

    def reveal(self, path: str) -> None:
        self._fail()
        self.revealed.append(path)

    def _fail(self) -> None:
        from app.ui.opener import OpenFailed

        if self.failure is not None:
            raise OpenFailed(self.failure)
