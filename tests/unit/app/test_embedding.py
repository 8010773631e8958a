"""Two-phase indexing on real files, a real store and the real starter model.

Phase 1 makes every file keyword-searchable; phase 2 adds vectors in priority order,
pauses on its own (user, battery), and never lets a big file hold back small ones.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.embedding import EMBED_NICE, EmbedConfig
from app.indexer import IndexerConfig, Progress
from app.pipeline import Pipeline
from app.search import SearchOptions, SearchService
from app.settings import Settings
from app.watcher import normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.models import BAND_OPENED
from storage.store import Store


@pytest.fixture(scope="module")
def embedder(starter_model_dir: Path) -> Embedder:
    return load_embedder(EmbedderConfig(model=str(starter_model_dir)))


def _pipeline(
    tmp_path: Path, embedder: Embedder, folder: Path, *, workers: int = 1, **embed: object
) -> Pipeline:
    settings = Settings(folders=[str(folder)], chunk_tokens=64, chunk_overlap=8)
    config = IndexerConfig(workers=workers, sandbox=False, embed=EmbedConfig(**embed))  # type: ignore[arg-type]
    return Pipeline(tmp_path / "index.sqlite3", embedder, settings, config=config)


def _until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _notes(folder: Path, count: int) -> list[Path]:
    """One short note per file, each a little older than the one before."""
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"note{i}.txt"
        path.write_text(f"Note {i} about the lighthouse number {i}.")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
        paths.append(path)
    return paths


def test_keyword_results_first_vectors_after(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    _notes(folder, 3)
    (folder / "owls.txt").write_text("Barn owls hunt voles in the meadow after dusk.")
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.pause()
        pipe.index_once()  # phase 1 only: embedding is paused
        service = SearchService(pipe.store.path, embedder)
        before = service.search("owls hunting at night", SearchOptions(k=5))
        assert before[0].path == normalise(folder / "owls.txt")
        assert before[0].scores["keyword"] is not None and before[0].scores["vector"] is None
        assert not before[0].weak  # not hidden behind "Show weaker matches" for lack of a vector
        pipe.resume()
        summary = pipe.index_once()  # phase 2: every chunk gets its vector
        assert summary.ok == 0 and summary.embedded == 4 and summary.waiting == 0
        after = service.search("owls hunting at night", SearchOptions(k=5))
        assert after[0].path == normalise(folder / "owls.txt")
        assert after[0].scores["vector"] is not None
        meaning = service.search("birds of prey", SearchOptions(k=1, mode="vector"))
        assert meaning[0].path == normalise(folder / "owls.txt")
        service.close()


def test_phase2_order_recent_first_then_promotions(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    notes = [normalise(p) for p in _notes(folder, 6)]  # note5 is the newest
    with _pipeline(tmp_path, embedder, folder, max_chunks=1, first_tokens=1) as pipe:
        pipe.pause()
        pipe.index_once()
        phase2 = pipe.indexer.embedding
        phase2.resume()
        phase2.open()
        order = phase2.step(phase1_waiting=False)  # launches the newest note's batch
        assert order == [] and phase2.in_flight is not None
        pipe.store.promote([notes[0]], BAND_OPENED)  # meanwhile, the user opens an old note
        while not phase2.settled:
            order += phase2.step(phase1_waiting=False)
            time.sleep(0.01)
        phase2.close()
    assert order == [notes[5], notes[0], notes[4], notes[3], notes[2], notes[1]]


def test_promote_through_the_pipeline(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    notes = [normalise(p) for p in _notes(folder, 4)]
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.pause()
        pipe.start(watch=True)
        with (
            Store.open(pipe.store.path, readonly=True)
            if _until(pipe.store.path.exists)
            else None as reader
        ):  # type: ignore[union-attr]
            fp = pipe.indexer.fingerprint

            def first_in_line() -> int | None:
                work = reader.embedding_work(fp, max_chunks=1)
                return work.file_ids[0] if work.file_ids else None

            assert _until(lambda: reader.searchable()[0] == 4)
            assert first_in_line() == reader.get_file(notes[3]).id  # type: ignore[union-attr]
            pipe.promote([notes[1]], BAND_OPENED)
            assert _until(lambda: first_in_line() == reader.get_file(notes[1]).id)  # type: ignore[union-attr]


def test_battery_pauses_embedding_only(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    _notes(folder, 3)
    battery = [True]
    seen: list[Progress] = []
    settings = Settings(folders=[str(folder)], chunk_tokens=64, chunk_overlap=8)
    config = IndexerConfig(workers=1, sandbox=False, embed=EmbedConfig(battery_poll_s=0.05))
    with Pipeline(
        tmp_path / "index.sqlite3", embedder, settings, config=config,
        on_progress=seen.append, on_battery=lambda: battery[0],
    ) as pipe:  # fmt: skip
        pipe.start(watch=True)
        assert _until(lambda: any(p.keyword_files == 3 and p.embedding == "battery" for p in seen))
        time.sleep(0.3)
        assert seen[-1].meaning_files == 0 and seen[-1].backlog_chunks == 3
        battery[0] = False  # plugged in
        assert _until(lambda: any(p.meaning_files == 3 and p.embedding == "idle" for p in seen))


def test_settings_switch_off_the_battery_pause(tmp_path: Path, embedder: Embedder) -> None:
    from app import power

    on = Pipeline(tmp_path / "a.sqlite3", embedder, Settings(pause_embedding_on_battery=True))
    off = Pipeline(tmp_path / "b.sqlite3", embedder, Settings(pause_embedding_on_battery=False))
    with on, off:
        assert on.indexer.embedding._on_battery is power.on_battery
        assert off.indexer.embedding._on_battery is power.never


CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产"


def _big_cjk(path: Path, megabytes: int = 10) -> None:
    rng = random.Random(0)
    parts, size = ["# 大文件\n\n"], 0
    while size < megabytes * 1_000_000:
        para = "".join(rng.choice(CJK) for _ in range(200)) + "。\n\n"
        parts.append(para)
        size += len(para.encode())
    path.write_text("".join(parts), encoding="utf-8")


@pytest.mark.slow
def test_big_cjk_file_does_not_delay_small_files(tmp_path: Path, embedder: Embedder) -> None:
    """Issue 16 item 8: a 10 MB CJK Markdown file must not hold back six small files."""
    folder = tmp_path / "docs"
    folder.mkdir()
    _big_cjk(folder / "aaa-big.md")  # first in the queue
    small = []
    for i in range(6):
        path = folder / f"small{i}.md"
        path.write_text(f"# Note {i}\n\nThe harbour pilot number {i} boards at dawn.\n")
        small.append(normalise(path))
    big = normalise(folder / "aaa-big.md")
    with _pipeline(tmp_path, embedder, folder, workers=2) as pipe:
        pipe.start(watch=False)
        with (
            Store.open(pipe.store.path, readonly=True)
            if _until(pipe.store.path.exists)
            else None as reader
        ):  # type: ignore[union-attr]

            def found(path: str) -> bool:
                hits = reader.keyword_search("harbour pilot", 20)
                return path in {
                    c.path for c in reader.chunks_by_id(h.chunk_id for h in hits).values()
                }

            assert _until(lambda: all(found(p) for p in small), timeout=20)
            assert reader.get_file(big) is None, "the small files did not wait for the big one"
            assert _until(lambda: reader.searchable() == (6, 6), timeout=20)
            assert reader.get_file(big) is None, "nor did their vectors"
        pipe.cancel()
        assert pipe.wait(120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_embed_thread_runs_at_lower_cpu_priority(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    _notes(folder, 1)
    with _pipeline(tmp_path, embedder, folder) as pipe:
        phase2 = pipe.indexer.embedding
        phase2.open()
        assert phase2._pool is not None

        def niceness() -> int:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        mine = niceness()
        assert phase2._pool.submit(niceness).result() == min(19, mine + EMBED_NICE)
        assert niceness() == mine  # the rest of the app keeps its priority
        phase2.close()


class SlowEmbedder:
    """The real embedder, a little slower per batch, so a pause lands mid-phase."""

    def __init__(self, inner: Embedder, delay: float) -> None:
        self.inner, self.delay = inner, delay

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> object:
        time.sleep(self.delay)
        return self.inner.embed_documents(texts)


def test_pause_is_reported_at_once_and_stops_new_batches(
    tmp_path: Path, embedder: Embedder
) -> None:
    from typing import cast

    folder = tmp_path / "docs"
    _notes(folder, 12)
    seen: list[Progress] = []
    slow = cast(Embedder, SlowEmbedder(embedder, 0.3))
    settings = Settings(folders=[str(folder)], chunk_tokens=64, chunk_overlap=8)
    config = IndexerConfig(workers=1, sandbox=False, embed=EmbedConfig(max_chunks=1))
    with Pipeline(
        tmp_path / "i.sqlite3", slow, settings, config=config, on_progress=seen.append
    ) as pipe:
        pipe.start(watch=True)
        assert _until(lambda: any(p.meaning_files >= 2 for p in seen))
        pipe.pause()
        assert _until(lambda: seen[-1].embedding == "paused", timeout=2.0)
        stopped = seen[-1].meaning_files
        time.sleep(1.0)
        assert seen[-1].meaning_files == stopped < 12, "no batch starts while paused"
        pipe.resume()
        assert _until(lambda: seen[-1].meaning_files == 12)
