"""A generated mbox of N messages (attachments included) indexed in constant memory.

    python benchmarks/mbox_scale.py [--messages 10000] [--embed] [--json OUT]

Writes ``tests/fixtures/mail.py``'s numbered messages (every 10th with a PDF attached,
every 7th with a text file) into one mbox, then indexes it with the real pipeline and the
starter model: phase 1 only unless ``--embed`` (phase 2's memory does not depend on the
archive: it embeds one batch at a time). A sampler thread reads the resident size of this
process (the writer) and of its extraction worker every 50 ms. Memory is constant when the
peak over the whole run is no higher than the peak once a tenth of the messages was in.

Baseline, same run: the same messages split and parsed in this process by
``app.extract.mbox.iter_mbox`` without writing anything (what reading alone costs).
Finally the index is searched for one message by subject, by sender and by body word.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from app.extract.mbox import iter_mbox
from app.indexer import IndexerConfig, Progress
from app.pipeline import Pipeline
from app.search import SearchOptions, SearchService
from app.settings import Settings
from benchmarks.report import machine, starter_spec
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from storage.models import SearchFilters
from tests.fixtures import mail

MB = 1024 * 1024


class Sampler:
    """Peak resident sizes of this process and of its children, sampled in a thread."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.writer = 0
        self.worker = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def sample(self) -> None:
        self.writer = max(self.writer, self.me.memory_info().rss)
        for child in self.me.children(recursive=True):
            try:
                self.worker = max(self.worker, child.memory_info().rss)
            except psutil.Error:
                continue  # a worker replaced or gone between listing and reading

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parse_only(box: Path) -> tuple[int, float]:
    """Messages and seconds to split and parse the archive without indexing (baseline)."""
    start = time.perf_counter()
    count = sum(1 for _ in iter_mbox(box))
    return count, time.perf_counter() - start


def index(folder: Path, db: Path, messages: int, embed: bool) -> dict[str, Any]:
    """Index ``folder`` and measure memory at a tenth of the messages and at the end."""
    spec = starter_spec()
    embedder = load_embedder(EmbedderConfig(model=spec))
    settings = Settings(folders=[str(folder)], chunk_tokens=128, chunk_overlap=16)
    pipe = Pipeline(db, embedder, settings, config=IndexerConfig(workers=1))
    if not embed:
        pipe.indexer.pause()  # phase 1 only; the run ends when every message is written
    box = str(next(folder.iterdir()))
    tenth: dict[str, int] = {}
    with Sampler() as sampler:
        before = sampler.me.memory_info().rss

        def watch(_p: Progress) -> None:
            state = pipe.store.mailbox(box)
            if not tenth and state is not None and state.resume_at >= 0.1 * box_size:
                tenth.update(writer=sampler.writer, worker=sampler.worker)

        box_size = Path(box).stat().st_size
        pipe.indexer._on_progress = watch
        start = time.perf_counter()
        summary = pipe.index_once()
        seconds = time.perf_counter() - start
        sampler.sample()
    found = search(db, embedder, messages)
    pipe.stop()
    return {
        "seconds": round(seconds, 1),
        "messages_per_s": round(messages / seconds, 1),
        "chunks": summary.chunks,
        "embedded": summary.embedded,
        "problems": summary.problems[:5],
        "rss_before_mb": round(before / MB, 1),
        "writer_peak_at_tenth_mb": round(tenth.get("writer", 0) / MB, 1),
        "writer_peak_mb": round(sampler.writer / MB, 1),
        "worker_peak_at_tenth_mb": round(tenth.get("worker", 0) / MB, 1),
        "worker_peak_mb": round(sampler.worker / MB, 1),
        "found": found,
    }


def search(db: Path, embedder: Any, messages: int) -> dict[str, bool]:
    """Find message ``messages // 2`` by its subject word, sender and body word."""
    i = messages // 2
    service = SearchService(db, embedder)
    try:

        def top(query: str, filters: SearchFilters | None = None) -> str:
            results = service.search(query, SearchOptions(k=3, mode="keyword", filters=filters))
            doc = results[0].document if results else None
            return doc.title if doc is not None else ""

        by_sender = SearchFilters(senders=(f"sender{i}@",))
        return {
            "subject": top(f"subj{i}").endswith(f"subj{i}"),
            "sender": top("update", by_sender).endswith(f"subj{i}"),
            "body": top(f"body{i}").endswith(f"subj{i}"),
        }
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--embed", action="store_true", help="run phase 2 (embedding) too")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mail"
        folder.mkdir()
        box = mail.write_mbox(folder / "archive.mbox", mail.messages(args.messages))
        parsed, parse_s = parse_only(box)
        result = {
            "machine": machine(),
            "messages": args.messages,
            "mbox_mb": round(box.stat().st_size / MB, 1),
            "baseline_parse_only_messages_per_s": round(parsed / parse_s, 1),
            **index(folder, Path(tmp) / "index.sqlite3", args.messages, args.embed),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
