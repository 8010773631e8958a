"""Mail through the installed ``quarry`` command: each message its own result, found by
subject, sender and body, filtered with ``--type mail`` and ``--from``; appended mail alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import mail
from tests.fixtures.cli import json_runner


@pytest.fixture
def quarry(tmp_path: Path, starter_model_dir: Path, quarry_home: Path) -> Any:
    return json_runner(tmp_path / "index.sqlite3", starter_model_dir)


def test_mail_messages_are_results_filtered_by_type_and_sender(tmp_path: Path, quarry: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    box = mail.write_mbox(docs / "Inbox", mail.messages(40))  # an mbox without an extension
    anna = mail.message("Harbour fees for March", "Anna Berg <anna@example.org>",
                        "The berth costs forty crowns a night.")  # fmt: skip
    (docs / "fees.eml").write_bytes(bytes(anna))
    (docs / "notes.txt").write_text("Notes about the harbour update and the fees.")

    first = quarry("index", str(docs))
    assert (first["ok"], first["failed"], first["skipped"]) == (3, 0, 0), first["problems"]

    hit = quarry("search", "subj17", "--mode", "keyword")[0]
    assert Path(hit["path"]) == box and hit["mail"]["subject"].endswith("subj17")
    assert "sender17@example.org" in hit["mail"]["from"] and hit["mail"]["date"][:4] == "2020"
    assert quarry("search", "body23", "--mode", "keyword")[0]["mail"]["subject"].endswith("subj23")

    updates = quarry("search", "update", "--mode", "keyword", "--k", "10")
    assert len({h["mail"]["key"] for h in updates if "mail" in h}) > 5  # messages, not one file

    fees = quarry("search", "harbour fees", "--mode", "keyword", "--type", "mail")
    assert fees and all("mail" in h for h in fees)
    assert "notes.txt" not in {Path(h["path"]).name for h in fees}
    from_anna = quarry("search", "fees", "--mode", "keyword", "--from", "anna@example")
    assert [Path(h["path"]).name for h in from_anna] == ["fees.eml"]
    # The same filters written in the query language (the window and the servers use it).
    in_query = quarry("search", "fees type:mail from:anna@example", "--mode", "keyword")
    assert [Path(h["path"]).name for h in in_query] == ["fees.eml"]
    assert in_query[0]["mail"]["subject"] == "Harbour fees for March" and not in_query[0]["ocr"]

    mail.write_mbox(box, mail.messages(10, start=40))
    appended = quarry("index", str(docs))
    assert appended["ok"] == 1 and 10 <= appended["embedded"] <= appended["chunks"]
    assert quarry("search", "subj45", "--mode", "keyword")[0]["mail"]["subject"].endswith("subj45")
