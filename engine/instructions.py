"""Task instructions for Qwen3 queries: named presets, user presets and the query format.

Qwen3-Embedding is trained with a one-sentence task per query (documents get none);
the model card reports 1-5 % better retrieval with a fitting task than without. Changing a
query instruction needs no re-embedding, so these are a per-search choice.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_PRESET = "web_search"

# Written in English on purpose: the model card advises English instructions for every language.
PRESETS: dict[str, str] = {
    "web_search": "Given a web search query, retrieve relevant passages that answer the query",
    "question_answering": "Given a question, retrieve passages that contain the answer to the question",
    "code_search": "Given a natural language description or a code snippet, retrieve code or documentation that matches it",
    "notes": "Given a search query, retrieve relevant passages from the user's personal notes and documents",
    "multilingual": "Given a query in any language, retrieve relevant passages in any language that answer the query",
    "scientific_claims": "Given a scientific claim, retrieve documents that support or refute the claim",
    "similar_documents": "Retrieve documents that are semantically similar to the given text",
    "keywords": "Given a few keywords, retrieve documents that discuss the topic they describe",
}

DEFAULT_TASK = PRESETS[DEFAULT_PRESET]


def format_query(task: str | None, query: str) -> str:
    """The exact Qwen3 query text; note the model card has no space after ``Query:``.

    An empty or None task falls back to the official default, which is what the model saw
    most in training, rather than sending a bare query it was never trained on.
    """
    return f"Instruct: {task or DEFAULT_TASK}\nQuery:{query}"


# The official Qwen3-Reranker judge prompt: prefix + rerank_body(...) + suffix (model card).
RERANK_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
RERANK_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def rerank_body(instruction: str | None, query: str, doc: str) -> str:
    """The user turn of the official Qwen3-Reranker prompt, between prefix and suffix."""
    return f"<Instruct>: {instruction or DEFAULT_TASK}\n<Query>: {query}\n<Document>: {doc}"


def merged_presets(user: Mapping[str, str] | None = None) -> dict[str, str]:
    """Built-in presets overlaid with the user's (a user preset may replace a built-in)."""
    merged = dict(PRESETS)
    for name, task in (user or {}).items():
        name, task = name.strip(), task.strip()
        if name and task:
            merged[name] = task
    return merged


def preset_or_default(preset: str, user: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(preset to use, note): a name that is no longer known gives the default and a note.

    For a *saved* choice (Settings' ``query_preset``, perhaps a user preset since deleted
    or a hand-edited file): search must go on, and the window and the CLI both say why
    the default is used. A name typed for one search goes to ``resolve_instruction``,
    which refuses it instead.
    """
    if preset in merged_presets(user):
        return preset, None
    note = (
        f"unknown instruction preset {preset!r} in Settings; searching with"
        f" {DEFAULT_PRESET!r} instead (choose one in Settings > Instructions)"
    )
    return DEFAULT_PRESET, note


def resolve_instruction(
    instruction: str | None = None,
    preset: str | None = None,
    user: Mapping[str, str] | None = None,
) -> str:
    """The task text to use: an explicit instruction wins, then a preset name, then the default.

    Raises KeyError naming the known presets when ``preset`` is unknown, so a typo in the
    CLI or settings is reported instead of silently searching with the wrong task.
    """
    if instruction and instruction.strip():
        return instruction.strip()
    presets = merged_presets(user)
    if preset is None:
        return DEFAULT_TASK
    if preset not in presets:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(sorted(presets))}")
    return presets[preset]
