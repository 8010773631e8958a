"""Any str round-trips through SQLite: undecodable file-name bytes, Windows surrogates too."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from storage.store import Store
from storage.textcodec import from_db, to_db

#: Code points the mapping touches, mixed with ordinary text.
_TRICKY = st.sampled_from(
    ["\udcff", "\udc80", "\ud800", "\udfff", "\U0010f7ff", "\U0010f800", "\U0010ffff", "/", "é"]
)
_TEXT = st.lists(st.one_of(_TRICKY, st.characters()), max_size=40).map("".join)


@given(_TEXT)
def test_to_db_round_trips_and_is_valid_utf8(text: str) -> None:
    stored = to_db(text)
    stored.encode("utf-8")  # what SQLite's driver will do: must not raise
    assert from_db(stored) == text


@given(st.text())
def test_ordinary_text_is_stored_as_it_is(text: str) -> None:
    if not any(c >= "\U0010f7ff" for c in text):
        assert to_db(text) == text


def test_undecodable_name_is_stored_and_found_exactly(tmp_path: Path) -> None:
    name = os.fsdecode(b"/docs/caf\xe9 \xff.txt")
    with Store.open(tmp_path / "i.sqlite3") as store:
        store.add_folder("/docs")
        store.enqueue([name], "index")
        store.mark_skipped(name, f"odd: {name}")
        record = store.get_file(name)
        assert record is not None and record.path == name and record.error == f"odd: {name}"
        assert [f.path for f in store.files(under="/docs")] == [name]
        assert [job.path for job in store.claim_jobs(5)] == [name]
