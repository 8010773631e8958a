"""The real model's cost: full-size Qwen3 on every backend/precision here, beside the library.

    python benchmarks/model_speed.py [--sizes 0.6B] [--device cpu|cuda] [--paths a,b] [--chunks 48]
                                     [--quick] [--json FILE]

Models are full-size Qwen3 shapes with random weights (``fullsize_models.py``; compute cost does
not depend on weight values) and the real Qwen tokenizer. Each *path* is either Quarry's own
backend (``quarry/...``, through ``engine.factory`` exactly as the app loads it) or the library
used directly in its best configuration found by a small sweep in the same run
(``direct/...``: the Qwen3 model-card code on transformers; ``Llama.embed`` on
llama-cpp-python). Each path runs in its own child process, so its peak RSS is its own (on
CUDA, ``--inprocess`` runs them in one process and reports ``torch.cuda.max_memory_allocated``).

Per path: document tokens/s on ``--chunks`` chunks of ~250 tokens of real text (pydoc topics),
single-query latency p50, rerank latency for 20 candidates of ~250 tokens (the first
``SearchOptions.rerank_batch`` and all 20), peak memory, and the cosine of its document
vectors to Quarry's fp32 transformers vectors on the same text (fidelity). Ratios compare each
Quarry path with the direct path of the same library and precision.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from fullsize_models import build_hf, convert_gguf  # noqa: E402

QUERIES = [
    "how do I catch an exception and keep going",
    "string formatting with named fields",
    "what does the with statement do",
    "import a module from a package",
    "difference between is and ==",
    "how are default arguments evaluated",
    "loop over a dictionary's keys and values",
    "what is a generator expression",
    "class attributes versus instance attributes",
    "how to write a lambda",
]
RERANK_QUERY = "how do I handle errors so the program keeps running"
RERANK_CANDIDATES = 20


@dataclass
class Result:
    """What one path measured."""

    path: str
    size: str
    tokens_per_s: float = 0.0
    query_p50_ms: float = 0.0
    rerank_first_ms: float = 0.0
    rerank_all_ms: float = 0.0
    peak_mb: float = 0.0
    config: str = ""
    error: str = ""
    cosine_fp32: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


# ---- text ---------------------------------------------------------------------------------


def chunks(tokenizer_json: Path, count: int, tokens: int = 250) -> list[str]:
    """``count`` consecutive pydoc passages of about ``tokens`` Qwen tokens each."""
    from pydoc_data.topics import topics

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    words = " ".join(topics[k] for k in sorted(topics)).split()
    out: list[str] = []
    start = 0
    while len(out) < count:
        width = tokens * 3 // 5
        while (
            len(tok.encode(" ".join(words[start : start + width]), add_special_tokens=False))
            < tokens
        ):
            width += 4
        out.append(" ".join(words[start : start + width]))
        start = (start + width) % max(len(words) - 4 * tokens, 1)
    return out


def count_tokens(tokenizer_json: Path, texts: Sequence[str]) -> int:
    """Tokens the model sees: the text plus the one ``<|endoftext|>`` Qwen3 pools on."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    return sum(len(tok.encode(t, add_special_tokens=False)) + 1 for t in texts)


# ---- timing helpers -------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes (CUDA work is finished before the clock stops)."""
    sync()
    started = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - started


def sync() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_mb() -> float:
    """Peak memory of this process: GPU memory on CUDA, else the RSS high-water mark."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.max_memory_allocated():
        return float(torch.cuda.max_memory_allocated() / 2**20)
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def reset_peak() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# ---- embedders under test ---------------------------------------------------------------------

EmbedFn = Callable[[Sequence[str]], object]
QueryFn = Callable[[str], object]
RankFn = Callable[[str, Sequence[str]], object]


def quarry_transformers(
    folder: Path, dtype: str, device: str, batch_tokens: int | None
) -> tuple[EmbedFn, QueryFn, Callable[[], None]]:
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    config = EmbedderConfig(
        model=str(folder), backend="transformers", device=device, dtype=dtype,
        batch_tokens=batch_tokens,
    )  # fmt: skip
    emb = load_embedder(config)
    return emb.embed_documents, lambda q: emb.embed_query(q, None), emb.close


def quarry_llamacpp(gguf: Path, device: str) -> tuple[EmbedFn, QueryFn, Callable[[], None]]:
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    emb = load_embedder(EmbedderConfig(model=str(gguf), backend="llamacpp", device=device))
    return emb.embed_documents, lambda q: emb.embed_query(q, None), emb.close


def direct_transformers(
    folder: Path, dtype: str, device: str, batch: int
) -> tuple[EmbedFn, QueryFn, Callable[[], None]]:
    """The Qwen3-Embedding model card's code, batch ``batch`` texts per forward pass."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
    model = (
        AutoModel.from_pretrained(
            str(folder), dtype=getattr(torch, dtype), attn_implementation="sdpa"
        )
        .to(device)
        .eval()
    )

    def embed(texts: Sequence[str]) -> object:
        out = []
        for i in range(0, len(texts), batch):
            enc = tok(list(texts[i : i + batch]), padding=True, truncation=True,
                      max_length=8192, return_tensors="pt").to(device)  # fmt: skip
            with torch.inference_mode():
                hidden = model(**enc).last_hidden_state
            out.append(F.normalize(hidden[:, -1].float(), p=2, dim=1).cpu())
        return torch.cat(out).numpy()

    task = "Given a web search query, retrieve relevant passages that answer the query"
    return embed, lambda q: embed([f"Instruct: {task}\nQuery:{q}"]), lambda: None


def direct_llamacpp(
    gguf: Path, n_ctx: int, flash: bool, threads: int, device: str
) -> tuple[EmbedFn, QueryFn, Callable[[], None]]:
    """llama-cpp-python's own ``Llama.embed`` (pooling LAST, EOS from the GGUF's add_eos_token)."""
    import llama_cpp

    llm = llama_cpp.Llama(
        str(gguf), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
        n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, flash_attn=flash,
        n_threads=threads, n_threads_batch=threads, verbose=False,
        n_gpu_layers=-1 if device != "cpu" else 0,
    )  # fmt: skip
    task = "Given a web search query, retrieve relevant passages that answer the query"
    return (
        lambda texts: llm.embed(list(texts), normalize=True),
        lambda q: llm.embed(f"Instruct: {task}\nQuery:{q}", normalize=True),
        llm.close,
    )


# ---- rerankers under test ------------------------------------------------------------------------


def quarry_reranker(
    spec: Path, backend: str, device: str, dtype: str
) -> tuple[RankFn, Callable[[], None]]:
    from engine.config import RerankerConfig
    from engine.factory import load_reranker

    rr = load_reranker(RerankerConfig(model=str(spec), backend=backend, device=device, dtype=dtype))
    return lambda q, docs: rr.rank(q, docs, None), rr.close


def direct_transformers_reranker(
    folder: Path, dtype: str, device: str
) -> tuple[RankFn, Callable[[], None]]:
    """The Qwen3-Reranker model card's code, with ``logits_to_keep=1`` (its best setting)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.instructions import RERANK_PREFIX, RERANK_SUFFIX, rerank_body

    tok = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
    model = (
        AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=getattr(torch, dtype), attn_implementation="sdpa"
        )
        .to(device)
        .eval()
    )
    prefix = tok.encode(RERANK_PREFIX, add_special_tokens=False)
    suffix = tok.encode(RERANK_SUFFIX, add_special_tokens=False)
    yes, no = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")

    def rank(query: str, docs: Sequence[str]) -> object:
        pairs = [rerank_body(None, query, d) for d in docs]
        enc = tok(pairs, padding=False, truncation="longest_first", return_attention_mask=False,
                  max_length=8192 - len(prefix) - len(suffix))  # fmt: skip
        enc["input_ids"] = [prefix + ids + suffix for ids in enc["input_ids"]]
        batch = tok.pad(enc, padding=True, return_tensors="pt").to(device)
        with torch.inference_mode():
            logits = model(**batch, logits_to_keep=1).logits[:, -1, :]
            pair = torch.stack([logits[:, no], logits[:, yes]], dim=1).float()
            return torch.softmax(pair, dim=1)[:, 1].cpu().numpy()

    return rank, lambda: None


def direct_llamacpp_reranker(
    gguf: Path, threads: int, flash: bool, device: str
) -> tuple[RankFn, Callable[[], None]]:
    """llama-cpp-python used directly: one ``eval`` per candidate, P(yes) from the last logits."""
    import llama_cpp
    import numpy as np

    from engine.instructions import RERANK_PREFIX, RERANK_SUFFIX, rerank_body

    llm = llama_cpp.Llama(
        str(gguf), n_ctx=2048, n_batch=2048, n_ubatch=2048, flash_attn=flash, n_threads=threads,
        n_threads_batch=threads, verbose=False, n_gpu_layers=-1 if device != "cpu" else 0,
    )  # fmt: skip
    prefix = llm.tokenize(RERANK_PREFIX.encode(), add_bos=False, special=True)
    suffix = llm.tokenize(RERANK_SUFFIX.encode(), add_bos=False, special=True)

    def rank(query: str, docs: Sequence[str]) -> object:
        out = []
        for doc in docs:
            body = llm.tokenize(
                rerank_body(None, query, doc).encode(), add_bos=False, special=False
            )
            llm.reset()
            llm.eval(prefix + body + suffix)
            logits = llm.scores[llm.n_tokens - 1]
            out.append(1 / (1 + np.exp(float(logits[2152] - logits[9693]))))
        return out

    return rank, llm.close


def rerank_batch() -> int:
    """Candidates per ``rank`` call, as ``SearchService.rerank`` sends them."""
    try:
        from app.search import SearchOptions
    except ImportError:  # GPU boxes without the storage dependencies (sqlean): the default
        return 4
    return SearchOptions().rerank_batch


# ---- one path ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """Everything a child needs to measure one path."""

    path: str
    size: str
    device: str
    chunks: int
    quick: bool
    vectors_out: str
    cache: str
    rerank_sizes: str = "0.6B"


def physical_cores() -> int:
    from engine.machine import physical_cores as cores

    return cores()


def sweep(
    build: Callable[..., tuple[EmbedFn, QueryFn, Callable[[], None]]],
    options: Sequence[dict[str, object]],
    probe: Sequence[str],
) -> tuple[dict[str, object], float]:
    """The option set with the best tokens/s on ``probe`` (each built, warmed, timed, closed)."""
    best: tuple[dict[str, object], float] = (dict(options[0]), 0.0)
    for opts in options:
        try:
            embed, _, close = build(**opts)
        except Exception as exc:  # a configuration the library rejects is simply not best
            print(f"  sweep {opts}: {exc}", file=sys.stderr)
            continue
        embed(probe[:2])
        rate = len(probe) / timed(lambda e=embed: e(probe))  # type: ignore[misc]
        close()
        gc.collect()
        print(f"  sweep {opts}: {rate:.2f} chunks/s", file=sys.stderr)
        if rate > best[1]:
            best = (dict(opts), rate)
    return best


def embed_path(
    job: Job, folder: Path, texts: list[str]
) -> tuple[EmbedFn, QueryFn, Callable[[], None], str]:
    """Build the embedder of ``job.path`` (sweeping the direct paths' settings first)."""
    who, lib, variant = job.path.split("/")
    probe = texts[: (4 if job.quick else 8) if job.device == "cpu" else 256]
    dtype, _, knob = variant.partition("@")
    if lib == "transformers":
        if who == "quarry":
            bt = int(knob.split("=")[1]) if knob else None
            return (
                *quarry_transformers(folder, dtype, job.device, bt),
                f"batch_tokens={bt or 'default'}",
            )
        sizes = [8, 32] if job.device == "cpu" else [32, 128, 512]
        opts = [{"folder": folder, "dtype": dtype, "device": job.device, "batch": b} for b in sizes]
        best, _ = sweep(direct_transformers, opts, probe)
        return (*direct_transformers(**best), f"batch={best['batch']}")  # type: ignore[arg-type]
    gguf = convert_gguf(folder, dtype)
    if who == "quarry":
        return (*quarry_llamacpp(gguf, job.device), "defaults")
    threads = physical_cores()
    grid = [(2048, True), (2048, False), (1024, True), (4096, True), (512, True)]
    if job.quick:
        grid = grid[:2]
    opts = [{"gguf": gguf, "n_ctx": c, "flash": f, "threads": threads, "device": job.device}
            for c, f in grid]  # fmt: skip
    best, _ = sweep(direct_llamacpp, opts, probe)
    return (*direct_llamacpp(**best), f"n_ctx=n_batch=n_ubatch={best['n_ctx']}, "  # type: ignore[arg-type]
            f"flash_attn={best['flash']}, threads={threads}")  # fmt: skip


def rank_path(job: Job, rr_folder: Path) -> tuple[RankFn, Callable[[], None]]:
    who, lib, variant = job.path.split("/")
    dtype = variant.partition("@")[0]
    if lib == "transformers":
        if who == "quarry":
            return quarry_reranker(rr_folder, "transformers", job.device, dtype)
        return direct_transformers_reranker(rr_folder, dtype, job.device)
    gguf = convert_gguf(rr_folder, dtype)
    if who == "quarry":
        return quarry_reranker(gguf, "llamacpp", job.device, "auto")
    return direct_llamacpp_reranker(gguf, physical_cores(), True, job.device)


def measure(job: Job) -> Result:
    """Run one path: embedding throughput, query latency, rerank latency, memory, vectors."""
    import numpy as np

    os.environ["QUARRY_BENCH_CACHE"] = job.cache
    folder = build_hf(job.size, reranker=False)
    tok_json = folder / "tokenizer.json"
    texts = chunks(tok_json, job.chunks)
    result = Result(job.path, job.size)
    reset_peak()
    embed, query, close, result.config = embed_path(job, folder, texts)
    embed(texts[:2])
    seconds = timed(lambda: embed(texts))
    result.tokens_per_s = count_tokens(tok_json, texts) / seconds
    vectors = np.asarray(embed(texts[:16]), dtype=np.float32)
    np.save(job.vectors_out, vectors)
    query(QUERIES[0])
    result.query_p50_ms = statistics.median(timed(lambda q=q: query(q)) for q in QUERIES) * 1000
    close()
    gc.collect()
    if job.size in job.rerank_sizes.split(","):
        rank, close_rr = rank_path(job, build_hf(job.size, reranker=True))
        docs = chunks(tok_json, RERANK_CANDIDATES)
        batch = rerank_batch()
        rank(RERANK_QUERY, docs[:2])
        result.rerank_first_ms = timed(lambda: rank(RERANK_QUERY, docs[:batch])) * 1000
        result.rerank_all_ms = (
            timed(
                lambda: [
                    rank(RERANK_QUERY, docs[i : i + batch]) for i in range(0, len(docs), batch)
                ]
            )
            * 1000
        )
        result.extra["rerank_all_one_call_ms"] = timed(lambda: rank(RERANK_QUERY, docs)) * 1000
        close_rr()
    result.peak_mb = peak_mb()
    return result


# ---- driver --------------------------------------------------------------------------------------


def available_paths(device: str) -> list[str]:
    """Every path this machine can run: installed libraries x precisions the device supports."""
    from engine.machine import detect

    paths: list[str] = []
    try:
        import torch  # noqa: F401

        dtypes = ["bfloat16", "float16"] if device == "cuda" else ["float32", "bfloat16"]
        for dtype in dtypes:
            paths += [f"quarry/transformers/{dtype}", f"direct/transformers/{dtype}"]
    except ImportError:
        pass
    try:
        import llama_cpp  # noqa: F401

        if device == "cpu" or detect().has_metal:
            for quant in ("q8_0", "q4_k_m", "f16"):
                paths += [f"quarry/llamacpp/{quant}", f"direct/llamacpp/{quant}"]
    except ImportError:
        pass
    return paths


def run_child(job: Job) -> Result:
    """``job`` in a fresh interpreter, so its peak RSS and any native crash are its own."""
    cmd = [sys.executable, __file__, "--child", json.dumps(asdict(job))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return Result(job.path, job.size, error=f"exit {proc.returncode}: {' | '.join(tail)}")
    return Result(**json.loads(proc.stdout.strip().splitlines()[-1]))


def fidelity(results: list[Result], folder: Path) -> None:
    """Cosine of each path's vectors to Quarry's fp32 (or bf16 on GPU) vectors, same texts."""
    import numpy as np

    for size in {r.size for r in results}:
        ref_name = next(
            (p for p in ("quarry/transformers/float32", "quarry/transformers/bfloat16")
             if (folder / f"{size}-{p.replace('/', '_')}.npy").exists()), None,
        )  # fmt: skip
        if ref_name is None:
            continue
        ref = np.load(folder / f"{size}-{ref_name.replace('/', '_')}.npy")
        for r in results:
            file = folder / f"{size}-{r.path.replace('/', '_')}.npy"
            if r.size == size and file.exists():
                vec = np.load(file)
                r.cosine_fp32 = float(np.min(np.sum(vec * ref, axis=1)))
                r.extra["fidelity_ref"] = 32.0 if ref_name.endswith("float32") else 16.0


def ratio(results: list[Result], r: Result) -> str:
    if not r.path.startswith("quarry/") or not r.tokens_per_s:
        return ""
    variant = r.path.split("/", 1)[1].split("@")[0]
    base = next((b for b in results if b.size == r.size and b.path == f"direct/{variant}"), None)
    if base is None or not base.tokens_per_s:
        return ""
    rr = ""
    if base.rerank_all_ms and r.rerank_all_ms:
        rr = f"; rerank {base.rerank_all_ms / r.rerank_all_ms:.2f}x"
    return f"{r.tokens_per_s / base.tokens_per_s:.2f}x{rr}; RSS {r.peak_mb / base.peak_mb:.2f}x"


def report(results: list[Result], device: str) -> str:
    from engine.machine import detect

    info = detect()
    lines = [
        f"## Full-size Qwen3 cost ({date.today().isoformat()}, {info.cpu_model}, "
        f"{info.physical_cores} physical / {os.cpu_count()} logical cores, "
        f"flags: {', '.join(sorted(info.features)) or 'n/a'}, device {device}, "
        f"Python {platform.python_version()})",
        "",
        "| size | path | config | doc tokens/s | query p50 ms | rerank first 4 / all 20 ms | peak MB | cos to ref | Quarry / direct |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.size} | {r.path} | | failed: {r.error} | | | | | |")
            continue
        cos = f"{r.cosine_fp32:.5f}" if r.cosine_fp32 is not None else ""
        rr = f"{r.rerank_first_ms:.0f} / {r.rerank_all_ms:.0f}" if r.rerank_all_ms else ""
        lines.append(
            f"| {r.size} | {r.path} | {r.config} | {r.tokens_per_s:.1f} | {r.query_p50_ms:.1f} | "
            f"{rr} | {r.peak_mb:.0f} | {cos} | {ratio(results, r)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.6B")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--paths", default="", help="comma list; default: all available")
    parser.add_argument("--chunks", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="smaller sweeps")
    parser.add_argument("--rerank-sizes", default="0.6B", help="sizes whose reranker is measured")
    parser.add_argument("--inprocess", action="store_true", help="no child processes (GPU)")
    parser.add_argument("--json", default="", help="also write the results here")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asdict(measure(Job(**json.loads(args.child))))))
        return
    paths = [p for p in args.paths.split(",") if p] or available_paths(args.device)
    cache = os.environ.get("QUARRY_BENCH_CACHE", str(Path.home() / ".cache" / "quarry-bench"))
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            for path in paths:
                name = f"{size}-{path.replace('/', '_')}.npy"
                job = Job(path, size, args.device, args.chunks, args.quick,
                          str(Path(tmp) / name), cache, args.rerank_sizes)  # fmt: skip
                print(f"measuring {size} {path} ...", file=sys.stderr, flush=True)
                if args.inprocess:
                    try:
                        result = measure(job)
                    except Exception as exc:  # report and go on with the other paths
                        result = Result(path, size, error=f"{type(exc).__name__}: {exc}")
                    gc.collect()
                else:
                    result = run_child(job)
                print(f"  {result}", file=sys.stderr, flush=True)
                results.append(result)
        fidelity(results, Path(tmp))
    text = report(results, args.device)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))


if __name__ == "__main__":
    main()
