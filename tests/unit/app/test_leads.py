"""Leads through the real pipeline: the starter model, real files, a real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.settings import Settings
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.models import Backlog

NOTE = "Harbour fees for visiting yachts. " + " ".join(
    f"Berth {i} on pontoon {i % 4} is {8 + i % 5} metres long." for i in range(60)
)


@pytest.fixture(scope="module")
def embedder(starter_model_dir: Path) -> Embedder:
    return load_embedder(EmbedderConfig(model=str(starter_model_dir)))


def _index(tmp_path: Path, embedder: Embedder) -> Pipeline:
    settings = Settings(folders=[str(tmp_path / "docs")], rerank_enabled=False)
    return Pipeline(tmp_path / "index.sqlite3", embedder, settings, config=IndexerConfig(workers=1))


def _leads(pipe: Pipeline) -> list[tuple[str, int, str]]:
    return pipe.store.conn.execute(
        "SELECT c.text, c.lead_end, c.lead_hash FROM chunks c WHERE c.lead_hash IS NOT NULL"
    ).fetchall()


def test_a_long_file_gets_a_lead_vector_and_a_short_one_none(
    tmp_path: Path, embedder: Embedder
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "harbour.txt").write_text(NOTE, encoding="utf-8")
    (tmp_path / "docs" / "short.txt").write_text("A note about owls.", encoding="utf-8")
    with _index(tmp_path, embedder) as pipe:
        pipe.index_once()
        ((text, end, digest),) = _leads(pipe)
        assert text.startswith("Harbour fees") and 0 < end < len(text)
        assert pipe.store.missing_embeddings([digest]) == set(), "the lead has its vector"
        assert pipe.store.backlog() == Backlog()
        query = embedder.embed_query(text[:end])
        (hit,) = pipe.store.vector_search(query, 1)
        assert hit.score > 0.99, "the lead's own text finds its chunk through the lead"


def test_an_index_from_before_leads_gets_them_on_the_next_run(
    tmp_path: Path, embedder: Embedder
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "harbour.txt").write_text(NOTE, encoding="utf-8")
    with _index(tmp_path, embedder) as pipe:
        pipe.index_once()
        expected = _leads(pipe)
        # What an index written before schema v7 holds: no leads, the upgrade's cursor.
        pipe.store.conn.execute("UPDATE chunks SET lead_end = NULL, lead_hash = NULL")
        pipe.store.prune_embeddings()
        pipe.store.conn.execute("INSERT INTO meta(key, value) VALUES ('lead_backfill', '0')")
        assert _leads(pipe) == [] and pipe.store.chunks_needing_leads()
    with _index(tmp_path, embedder) as pipe:
        pipe.index_once()
        assert _leads(pipe) == expected, "the same lead the chunker gives a new file"
        assert pipe.store.missing_embeddings([expected[0][2]]) == set()
        assert pipe.store.backlog() == Backlog() and pipe.store.chunks_needing_leads() == []
        left = pipe.store.conn.execute("SELECT count(*) FROM meta WHERE key = 'lead_backfill'")
        assert left.fetchone()[0] == 0, "the backfill ended"
