"""mbox files through the indexer: every message its own result, appends read alone, a run
stopped mid-archive resumes, a rewritten archive is read afresh without embedding twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.search import SearchOptions, SearchService
from app.settings import Settings
from app.watcher import normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.models import SearchFilters
from tests.fixtures import mail


@pytest.fixture(scope="module")
def embedder(starter_model_dir: Path) -> Embedder:
    return load_embedder(EmbedderConfig(model=str(starter_model_dir)))


def _pipeline(tmp_path: Path, embedder: Embedder, folder: Path, timeout: float = 60) -> Pipeline:
    settings = Settings(folders=[str(folder)], chunk_tokens=64, chunk_overlap=8)
    config = IndexerConfig(workers=1, extract_timeout_s=timeout)
    return Pipeline(tmp_path / "index.sqlite3", embedder, settings, config=config)


def _subjects(pipe: Pipeline, path: Path) -> list[str]:
    """The subjects of the messages the index holds for ``path``, in file order."""
    store = pipe.store
    ids = {c.doc_id for c in store.chunks(normalise(path)) if c.doc_id is not None}
    docs = sorted(store.documents_by_id(ids).values(), key=lambda d: int(d.key))
    return [d.title for d in docs]


def _new_chunks(pipe: Pipeline, path: Path, numbers: range) -> int:
    """Chunks of the messages numbered ``numbers`` (by their subject word)."""
    store = pipe.store
    chunks = [c for c in store.chunks(normalise(path)) if c.doc_id is not None]
    docs = store.documents_by_id({c.doc_id for c in chunks if c.doc_id is not None})
    wanted = {f"subj{i}" for i in numbers}
    return sum(1 for c in chunks if docs[c.doc_id].title.split()[-1] in wanted)  # type: ignore[index]


def test_messages_are_results_and_appends_embed_only_the_new(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    box = mail.write_mbox(folder / "archive.mbox", mail.messages(30))
    with _pipeline(tmp_path, embedder, folder) as pipe:
        first = pipe.index_once()
        assert (first.ok, first.failed, first.skipped) == (1, 0, 0), first.problems
        assert len(_subjects(pipe, box)) == 30 and first.embedded == first.chunks > 30
        record = pipe.store.get_file(normalise(box))
        assert record is not None and record.status == "ok" and record.content_hash

        search = SearchService(pipe.store.path, embedder)
        try:
            by_subject = search.search("subj17", SearchOptions(k=5, mode="keyword"))
            assert by_subject[0].document is not None
            assert by_subject[0].document.title.endswith("subj17")
            assert "sender17@example.org" in by_subject[0].document.sender
            by_body = search.search("body23", SearchOptions(k=5, mode="keyword"))
            assert by_body[0].document is not None and by_body[0].document.title.endswith("subj23")
            anyone = search.search("update", SearchOptions(k=20, mode="keyword"))
            assert len({r.document.key for r in anyone if r.document is not None}) > 5
            only = SearchOptions(k=20, mode="keyword", filters=SearchFilters(senders=("sender5@",)))
            from_five = search.search("update", only)
            assert from_five and all(r.document.title.endswith("subj5")  # type: ignore[union-attr]
                                     for r in from_five)  # fmt: skip
        finally:
            search.close()

        again = pipe.index_once()  # same size and time: left alone, nothing read or embedded
        assert (again.unchanged, again.ok, again.chunks, again.embedded) == (1, 0, 0, 0)

        mail.write_mbox(box, mail.messages(10, start=30))
        appended = pipe.index_once()
        assert appended.ok == 1 and len(_subjects(pipe, box)) == 40
        new = _new_chunks(pipe, box, range(30, 40))
        # Only the ten new messages are embedded (the last old one is read again, in case
        # its writer was still at it, and keeps its vectors).
        assert appended.embedded == new
        assert appended.chunks <= new + _new_chunks(pipe, box, range(29, 30))


def test_a_rewritten_archive_is_read_afresh_without_embedding_twice(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    box = mail.write_mbox(folder / "archive.mbox", mail.messages(12))
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.index_once()
        # A mail client compacts the file: message 3 deleted, the rest rewritten.
        box.unlink()
        mail.write_mbox(box, [m for i, m in enumerate(mail.messages(12)) if i != 3])
        again = pipe.index_once()
        assert again.ok == 1 and again.embedded == 0
        subjects = _subjects(pipe, box)
        assert len(subjects) == 11 and not any(s.endswith("subj3") for s in subjects)


def test_a_run_stopped_mid_archive_resumes_where_it_stopped(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    box = mail.write_mbox(folder / "archive.mbox", mail.messages(250))
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.indexer.pause()  # phase 1 only: the test is about reading, not embedding
        stopped = False

        def stop_after_first_batch(_progress: object) -> None:
            nonlocal stopped
            if not stopped and pipe.store.mailbox(normalise(box)) is not None:
                state = pipe.store.mailbox(normalise(box))
                if state is not None and state.resume_at > 0:
                    stopped = True
                    pipe.indexer.cancel()

        pipe.indexer._on_progress = stop_after_first_batch
        pipe.index_once()
        state = pipe.store.mailbox(normalise(box))
        assert stopped and state is not None and not state.complete
        read = len(_subjects(pipe, box))
        assert 0 < read < 250
        pipe.indexer._on_progress = None
        pipe.index_once()
        subjects = _subjects(pipe, box)
        assert len(subjects) == 250 == len(set(subjects))
        final = pipe.store.mailbox(normalise(box))
        assert final is not None and final.complete and final.gen == state.gen


@pytest.mark.slow
def test_a_message_that_breaks_extraction_is_skipped_not_the_archive(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    normal = list(mail.messages(8))
    box = mail.write_mbox(folder / "archive.mbox", [*normal[:3], mail.nested_parts(),
                                                    *normal[3:6], mail.many_parts(),
                                                    *normal[6:]])  # fmt: skip
    # Extraction in worker processes with a short time limit: the nested message raises
    # in the parser, the one with 30,000 attachments runs past the limit (its worker killed).
    with _pipeline(tmp_path, embedder, folder, timeout=4) as pipe:
        first = pipe.index_once()
        assert (first.ok, first.failed) == (1, 0), first.problems
        subjects = _subjects(pipe, box)
        assert [s.split()[-1] for s in subjects] == [f"subj{i}" for i in range(8)]
        record = pipe.store.get_file(normalise(box))
        assert record is not None and record.status == "ok" and record.error
        assert record.error.startswith("2 message(s) not read")
        assert "RecursionError" in record.error and "longer than 4 s" in record.error
        state = pipe.store.mailbox(normalise(box))
        assert state is not None and state.complete

        # Appending reads on after the last message; nothing before it is read again.
        mail.write_mbox(box, mail.messages(2, start=8))
        appended = pipe.index_once()
        assert (appended.ok, appended.failed) == (1, 0), appended.problems
        assert len(_subjects(pipe, box)) == 10
        assert appended.embedded == _new_chunks(pipe, box, range(8, 10))
