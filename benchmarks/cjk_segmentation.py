"""Chinese keyword units: overlapping bigrams (Quarry's index) vs jieba words, one run.

    python benchmarks/cjk_segmentation.py --corpus DIR     # DIR from benchmarks/manpages.py

Keyword search only, on the Chinese manual pages and the Chinese queries of
``data/multilingual_queries.json``: each page is cut into ~600-character chunks, each
chunk indexed in an in-memory FTS5 table once as ``storage.lexical`` bigrams and once as
jieba's search-mode words (``cut_for_search``, pip package ``jieba``, not a Quarry
dependency); the query is cut the same way, terms OR-ed, BM25-ranked, chunks deduplicated
to files. Prints file-level Hit@1 / MRR@10 and the analysis time of each.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from storage import lexical  # noqa: E402

Cutter = Callable[[str], list[str]]


def bigram_units(text: str) -> list[str]:
    """What chunks_lex.grams holds for ``text``."""
    return [
        g for run in lexical.CJK_RUN.findall(lexical.normalise(text)) for g in lexical.bigrams(run)
    ]


def jieba_units(text: str) -> list[str]:
    """jieba's search-mode words of the CJK runs of ``text``."""
    import jieba

    runs = lexical.CJK_RUN.findall(lexical.normalise(text))
    return [w for run in runs for w in jieba.cut_for_search(run) if w.strip()]


def score(
    corpus: Path, cut: Cutter, queries: list[dict[str, object]]
) -> tuple[float, float, float]:
    """(Hit@1, MRR@10, seconds spent cutting the chunks) for one way of cutting."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(units, file UNINDEXED)")
    spent = 0.0
    for page in sorted((corpus / "zh").glob("*.txt")):
        text = page.read_text(encoding="utf-8")
        for start in range(0, len(text), 600):
            began = time.perf_counter()
            units = " ".join(cut(text[start : start + 600]))
            spent += time.perf_counter() - began
            conn.execute("INSERT INTO t(units, file) VALUES (?, ?)", (units, page.stem))
    hits, rr = [], []
    for query in queries:
        terms = list(dict.fromkeys(cut(str(query["q"]))))
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = conn.execute(
            "SELECT file FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 200", (match,)
        )
        ranked = list(dict.fromkeys(r[0] for r in rows))[:10]
        relevant = set(query["rel"])  # type: ignore[call-overload]
        first = next((i + 1 for i, f in enumerate(ranked) if f in relevant), None)
        hits.append(first == 1)
        rr.append(1 / first if first else 0.0)
    return sum(hits) / len(hits), sum(rr) / len(rr), spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True)
    args = parser.parse_args()
    data = json.loads((HERE / "data" / "multilingual_queries.json").read_text(encoding="utf-8"))
    queries = [q for q in data["queries"] if q["lang"] == "zh"]
    import jieba

    jieba.initialize()
    print("| units | Hit@1 | MRR@10 | cutting time |\n|---|---|---|---|")
    for name, cut in (("bigrams (Quarry)", bigram_units), ("jieba cut_for_search", jieba_units)):
        hit1, mrr, spent = score(args.corpus, cut, queries)
        print(f"| {name} | {hit1:.2f} | {mrr:.2f} | {spent:.2f} s |")


if __name__ == "__main__":
    main()
