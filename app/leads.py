"""Leads: the opening of each file (and mail message) gets a vector of its own.

A file's first 96 tokens (the title, a manual page's name line, an abstract, a message's
subject and first lines) say what the whole file is about more plainly than any 384-token
chunk, where they are diluted by whatever follows. The first chunk of each file therefore
gets a second vector, of its lead only (``Chunker.lead``; only when the chunk is over twice
the lead's length), and scores the better of its two cosines everywhere a chunk's cosine is
read (``storage.retrieval``). One extra, short text per file to embed.

Measured (vector-only MRR@10 at file level, multilingual-e5-small, stored chunk vectors,
2026-11-28): pydoc (tuning set) 0.692 -> 0.714 with 96-token leads on first chunks over 192
tokens (leads of 48 / 160 tokens: 0.688 / 0.687; on every chunk over 120 tokens: 0.704);
held-out SQLite docs 0.808 -> 0.836; multilingual manual pages 0.733 -> 0.773 (French
0.542 -> 0.664, English 0.795 -> 0.787, German 0.733 -> 0.739, Chinese 0.857 -> 0.895,
Japanese 0.736 -> 0.781). The benchmarks' hybrid figures are in the README.

An index written before leads existed gets them here, a batch per indexer turn: the old
first chunks are read back (``Store.chunks_needing_leads``), measured with the model's
tokenizer, and recorded (``Store.set_leads``), which queues their files for the new vectors.
"""

from __future__ import annotations

from app.chunker import Chunker
from storage.store import Store

BATCH = 256


def backfill(store: Store, chunker: Chunker, batch: int = BATCH) -> bool:
    """Work out the leads of one batch of old first chunks; False once none are left."""
    rows = store.chunks_needing_leads(batch)
    leads = [
        (chunk_id, *(chunker.lead(text, heading) or (0, None))) for chunk_id, text, heading in rows
    ]
    store.set_leads(leads)
    return bool(rows)
