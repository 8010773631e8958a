"""User settings, declared once (type, default, description) and persisted as JSON.

Modelled on qutebrowser's configdata: every setting's meaning lives next to its default,
so the settings dialog, the CLI and the docs can all be generated from this one table.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app import paths
from engine.config import BACKENDS, DEVICES, DTYPES
from engine.instructions import DEFAULT_PRESET

log = logging.getLogger(__name__)

DEFAULT_EXCLUDE = [
    "**/.*",
    "**/.*/**",
    "**/node_modules/**",
    "**/__pycache__/**",
    "**/.git/**",
    "**/build/**",
    "**/dist/**",
    "**/target/**",
    "**/.venv/**",
    "**/venv/**",
    "**/.cache/**",
    "**/*.pyc",
    "**/*.o",
    "**/*.so",
    "**/*.dll",
    "**/*.exe",
]


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass
class Settings:
    """Everything the user can change; unknown or ill-typed keys in the file are ignored."""

    folders: list[str] = field(default_factory=list, metadata=_doc("Folders to index and watch."))
    include: list[str] = field(
        default_factory=lambda: ["**/*"], metadata=_doc("Globs a file must match to be indexed.")
    )
    exclude: list[str] = field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        metadata=_doc("Globs that skip a file or folder (hidden dirs, build outputs, caches)."),
    )
    max_file_mb: float = field(default=100.0, metadata=_doc("Files larger than this are skipped."))
    follow_symlinks: bool = field(
        default=False, metadata=_doc("Follow symbolic links (loops are detected).")
    )
    embed_model: str = field(
        default="",
        metadata=_doc(
            "Embedding model spec; empty picks a Qwen3 model if present, else the starter model."
        ),
    )
    embed_backend: str = field(
        default="auto", metadata=_doc("transformers, llamacpp, remote, numpy or auto.")
    )
    allow_download: bool = field(
        default=False,
        metadata=_doc(
            "The user agreed to download missing models from the Hugging Face hub (asked by "
            "the welcome and settings dialogs); off, Quarry never goes online."
        ),
    )
    device: str = field(
        default="auto", metadata=_doc("cuda, mps, metal (Apple GPU; as mps), cpu or auto.")
    )
    precision: str = field(default="auto", metadata=_doc("float32, float16, bfloat16 or auto."))
    dimension: int = field(
        default=0,
        metadata=_doc(
            "Embedding dimension (Matryoshka); 0 means the model's full size. Changing it rebuilds the index in the background."
        ),
    )
    remote_url: str = field(
        default="", metadata=_doc("OpenAI-compatible server for the remote backend.")
    )
    rerank_enabled: bool = field(
        default=True, metadata=_doc("Rerank the top results with a Qwen3 reranker.")
    )
    rerank_model: str = field(
        default="", metadata=_doc("Reranker model spec; empty picks one if present.")
    )
    rerank_depth: int = field(
        default=0,
        metadata=_doc("How many top results to rerank; 0 picks by device (CPU small, GPU larger)."),
    )
    query_preset: str = field(
        default=DEFAULT_PRESET,
        metadata=_doc(
            "Instruction preset for queries; one that is no longer known searches with the"
            " default and says so (engine.instructions.preset_or_default)."
        ),
    )
    custom_presets: dict[str, str] = field(
        default_factory=dict, metadata=_doc("User-defined instruction presets: name -> task text.")
    )
    chunk_tokens: int = field(default=384, metadata=_doc("Target chunk size in model tokens."))
    chunk_overlap: int = field(default=48, metadata=_doc("Tokens shared by consecutive chunks."))
    heading_prefix: bool = field(
        default=True, metadata=_doc("Prefix each chunk's embedded text with its heading path.")
    )
    pause_embedding_on_battery: bool = field(
        default=True,
        metadata=_doc(
            "Pause embedding (phase 2) while the computer runs on battery; keyword indexing "
            "goes on."
        ),
    )
    keep_running_in_tray: bool = field(
        default=True, metadata=_doc("Closing the window keeps indexing in the tray.")
    )
    ocr_enabled: bool = field(
        default=False,
        metadata=_doc(
            "Read text in scanned PDF pages and images with OCR (needs the ocr extra or the"
            " tesseract program; about 1-3 s per page on one core). Off: such files are"
            " skipped and re-read once it is switched on."
        ),
    )
    ocr_engine: str = field(
        default="auto", metadata=_doc("OCR engine: auto, tesseract or rapidocr.")
    )
    ocr_languages: str = field(
        default="",
        metadata=_doc(
            "Tesseract language packs joined by '+', e.g. 'eng+deu'; empty reads with every"
            " installed pack."
        ),
    )
    first_run_done: bool = field(
        default=False, metadata=_doc("The welcome dialog has been completed.")
    )
    api_server: bool = field(
        default=False,
        metadata=_doc(
            "While Quarry runs, let AI assistants and scripts search over HTTP on 127.0.0.1 "
            "(JSON API and MCP at /mcp; token in api-token in the config folder; read-only), "
            "sharing the window's loaded model and index."
        ),
    )
    api_port: int = field(default=8765, metadata=_doc("Port of that API on 127.0.0.1."))

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Setting name -> description, for help texts and the settings dialog."""
        return {f.name: f.metadata.get("doc", "") for f in fields(cls)}


def _one_of(*choices: str) -> tuple[Callable[[Any], bool], str]:
    """The engine's own lists (``engine.config``): what it accepts is what a file may hold."""
    return (lambda value: value in choices), "one of " + ", ".join(choices)


def _at_least(low: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value >= low), f"at least {low:g}"


# Values of the right type that would still break indexing or search (a hand-edited file,
# an older version's spelling): each falls back to its default when loaded.
_VALID: dict[str, tuple[Callable[[Any], bool], str]] = {
    "embed_backend": _one_of(*BACKENDS),
    "device": _one_of(*DEVICES),
    "precision": _one_of(*DTYPES),
    "dimension": ((lambda v: v == 0 or 32 <= v <= 8192), "0 (full size) or 32..8192"),
    "max_file_mb": ((lambda v: v > 0), "more than 0"),
    "rerank_depth": ((lambda v: 0 <= v <= 10_000), "0..10000"),
    "chunk_tokens": ((lambda v: 32 <= v <= 32_768), "32..32768"),
    "chunk_overlap": _at_least(0),
    "include": ((lambda v: all(isinstance(x, str) for x in v)), "a list of globs"),
    "exclude": ((lambda v: all(isinstance(x, str) for x in v)), "a list of globs"),
    "folders": ((lambda v: all(isinstance(x, str) for x in v)), "a list of folders"),
    "custom_presets": (
        (lambda v: all(isinstance(x, str) for x in (*v, *v.values()))),
        "names mapped to task texts",
    ),
}


def _coerce(defaults: Settings, raw: dict[str, Any]) -> Settings:
    """Keep known keys whose type and value are valid; each other one warns once."""
    values = asdict(defaults)
    for key, value in raw.items():
        if key not in values:
            continue
        expected = type(values[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            _ignored(key, value, expected.__name__, values[key])
            continue
        check, wanted = _VALID.get(key, (lambda _v: True, ""))
        if check(value):
            values[key] = value
        else:
            _ignored(key, value, wanted, values[key])
    if values["chunk_overlap"] >= values["chunk_tokens"]:
        _ignored("chunk_overlap", values["chunk_overlap"], "less than chunk_tokens", 48)
        values["chunk_overlap"] = min(48, values["chunk_tokens"] // 4)
    return Settings(**values)


def _ignored(key: str, value: Any, wanted: str, default: Any) -> None:
    log.warning(
        "settings: ignoring %s = %s (expected %s); using %r",
        key,
        json.dumps(value),
        wanted,
        default,
    )


def load(path: Path | None = None) -> Settings:
    """Read settings; a missing or corrupt file yields defaults (and is never overwritten silently)."""
    target = path or paths.settings_path()
    try:
        raw = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", target, exc)
        return Settings()
    return _coerce(Settings(), raw if isinstance(raw, dict) else {})


def save(settings: Settings, path: Path | None = None) -> None:
    """Write atomically (temp file + rename) with user-only permissions."""
    target = path or paths.settings_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(settings), fh, indent=2, ensure_ascii=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
