"""OCR engines side by side on rendered pages: character accuracy, pages/s, peak memory.

    python benchmarks/ocr.py [--dpi 100,150,200,300] [--engines rapidocr,tesseract]

Renders the pages of ``tests/fixtures/pages.py`` (DejaVu Sans/Serif/Mono and Pillow's
Aileron; a page fed in sideways; one tilted 3 degrees; two columns; Chinese) as full A4
scans at each resolution, and reads each with every engine through Quarry's own
``read_page`` (orientation, reading order). Each engine runs in a child process of its own,
the pages interleaved engine by engine, so both see the same machine load and each one's
peak RSS is its own (Tesseract's program included). Accuracy = 1 - edit distance /
reference length, whitespace collapsed (removed for Chinese); word recall = share of the
reference's words found anywhere in the output (what keyword search needs).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import statistics
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import machine, table
from tests.fixtures.pages import BENCH_PAGES, reference, render

#: Each page's prose three times over: about forty lines, a full A4 page at 11 pt.
PAGES = tuple(replace(spec, paragraphs=spec.paragraphs * 3) for spec in BENCH_PAGES)
A4 = (8.27, 11.69)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time (insertions by a running minimum)."""
    import numpy as np

    if not a or not b:
        return max(len(a), len(b))
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, char in enumerate(a, 1):
        cost = (bs != ord(char)).astype(np.int64)
        tmp = np.empty_like(row)
        tmp[0] = i
        tmp[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(tmp - steps) + steps
    return int(row[-1])


def normalise(text: str, lang: str) -> str:
    return re.sub(r"\s+", "" if lang == "zh" else " ", text).strip()


def accuracy(ref: str, got: str, lang: str) -> float:
    ref, got = normalise(ref, lang), normalise(got, lang)
    return max(0.0, 1 - edit_distance(ref, got) / len(ref))


def word_recall(ref: str, got: str, lang: str) -> float:
    if lang == "zh":  # character bigrams stand in for words, as the keyword index does
        ref, got = normalise(ref, lang), normalise(got, lang)
        grams = {ref[i : i + 2] for i in range(len(ref) - 1)}
        return sum(g in got for g in grams) / len(grams)
    words = set(re.findall(r"[a-z']+", ref.lower()))
    found = set(re.findall(r"[a-z']+", got.lower()))
    return len(words & found) / len(words)


def _serve(conn: Connection, engine_name: str, languages: str) -> None:
    """Child: load one engine, then OCR the (page, dpi) jobs it is sent."""
    import resource

    from app.extract.ocr import load_engine, read_page

    started = time.perf_counter()
    engine = load_engine(engine_name, languages)
    conn.send(time.perf_counter() - started)
    while (job := conn.recv()) is not None:
        index, dpi = job
        image = render(PAGES[index], dpi, *A4)
        result = read_page(image, engine)
        conn.send((result.text, result.seconds, result.turned))
    self_kb = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    conn.send((self_kb / 1024, child_kb / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dpi", default="100,150,200,300")
    parser.add_argument(
        "--engines", default="rapidocr,tesseract:eng+chi_sim,tesseract:eng",
        help="engine[:languages], comma separated",
    )  # fmt: skip
    args = parser.parse_args()
    dpis = [int(d) for d in args.dpi.split(",")]
    ctx = mp.get_context("spawn")
    children: dict[str, tuple[Connection, object, float]] = {}
    for label in args.engines.split(","):
        name, _, langs = label.partition(":")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, name, langs), daemon=True)
        process.start()
        children[label] = (parent, process, parent.recv())
    results: dict[tuple[str, int, str], tuple[float, float, float]] = {}
    for dpi in dpis:
        for index, spec in enumerate(PAGES):
            ref = reference(spec, dpi, A4[0])
            for label, (conn, _, _) in children.items():
                if label.endswith(":eng") and spec.lang != "en":
                    continue
                conn.send((index, dpi))
                text, seconds, _turned = conn.recv()
                results[label, dpi, spec.name] = (
                    accuracy(ref, text, spec.lang), word_recall(ref, text, spec.lang), seconds
                )  # fmt: skip
    memory = {}
    for label, (conn, process, _) in children.items():
        conn.send(None)
        memory[label] = conn.recv()
        process.join()  # type: ignore[attr-defined]
    print(f"OCR benchmark: {machine()}\n")
    _print_tables(results, children, memory, dpis)


def _print_tables(
    results: dict[tuple[str, int, str], tuple[float, float, float]],
    children: dict[str, tuple[Connection, object, float]],
    memory: dict[str, tuple[float, float]],
    dpis: list[int],
) -> None:
    labels = list(children)
    rows = []
    for label in labels:
        for dpi in dpis:
            got = {p: v for (lab, d, p), v in results.items() if lab == label and d == dpi}
            if not got:
                continue
            english = [v for p, v in got.items() if p != "chinese"]
            zh = got.get("chinese")
            rows.append([
                label, dpi,
                f"{statistics.mean(v[0] for v in english):.3f}",
                f"{statistics.mean(v[1] for v in english):.3f}",
                f"{zh[0]:.3f} / {zh[1]:.3f}" if zh else "n/a",
                f"{len(got) / sum(v[2] for v in got.values()):.2f}",
            ])  # fmt: skip
    print(table(["engine", "dpi", "English accuracy", "English word recall",
                 "Chinese accuracy / bigram recall", "pages/s"], rows))  # fmt: skip
    print()
    best = max(dpis, key=lambda d: sum(v[0] for (_, dd, _), v in results.items() if dd == d))
    per_page = []
    for spec in PAGES:
        row = [spec.name]
        for label in labels:
            value = results.get((label, best, spec.name))
            row.append(f"{value[0]:.3f} ({value[2]:.1f} s)" if value else "n/a")
        per_page.append(row)
    print(f"Per page at {best} dpi: accuracy (seconds)\n")
    print(table(["page", *labels], per_page))
    print()
    print(table(["engine", "load s", "peak RSS, Python process", "peak RSS, engine program"],
                [[lab, f"{children[lab][2]:.2f}", f"{memory[lab][0]:.0f} MB",
                  f"{memory[lab][1]:.0f} MB" if memory[lab][1] else "-"] for lab in labels]))  # fmt: skip


if __name__ == "__main__":
    main()
