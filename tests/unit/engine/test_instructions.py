"""Query instructions: the exact Qwen3 format and the preset logic."""

from __future__ import annotations

import pytest

from engine.instructions import (
    DEFAULT_TASK,
    PRESETS,
    format_query,
    merged_presets,
    resolve_instruction,
)


def test_default_task_is_the_official_one() -> None:
    assert DEFAULT_TASK == (
        "Given a web search query, retrieve relevant passages that answer the query"
    )


def test_format_query_has_no_space_after_query() -> None:
    assert format_query("Find code", "sort a list") == "Instruct: Find code\nQuery:sort a list"
    assert format_query(None, "q") == f"Instruct: {DEFAULT_TASK}\nQuery:q"


def test_presets_cover_the_issue_list() -> None:
    for name in (
        "web_search",
        "question_answering",
        "code_search",
        "notes",
        "multilingual",
        "scientific_claims",
    ):
        assert PRESETS[name].strip() and PRESETS[name].isascii()
    assert len(PRESETS) >= 8 and len(set(PRESETS.values())) == len(PRESETS)


def test_user_presets_merge_and_override() -> None:
    merged = merged_presets({"legal": " Find case law ", "notes": "My notes", " ": "x"})
    assert merged["legal"] == "Find case law" and merged["notes"] == "My notes"
    assert " " not in merged and "" not in merged
    assert PRESETS["notes"] != "My notes"  # the built-ins are not mutated


def test_resolve_instruction_precedence() -> None:
    assert resolve_instruction("explicit", "code_search") == "explicit"
    assert resolve_instruction(None, "code_search") == PRESETS["code_search"]
    assert resolve_instruction(None, "legal", {"legal": "Find case law"}) == "Find case law"
    assert resolve_instruction() == DEFAULT_TASK
    with pytest.raises(KeyError, match="web_search"):
        resolve_instruction(None, "nope")


def test_every_preset_is_written_in_english_as_the_model_card_advises() -> None:
    from storage.lexical import detect

    assert {name: detect(task) for name, task in PRESETS.items()} == dict.fromkeys(PRESETS, "en")
    assert "any language" in PRESETS["multilingual"]
