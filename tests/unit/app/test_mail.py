"""Mail extraction: messages with attachments, mbox streaming and resuming, Maildir files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from app.extract import ExtractorPool, extract_file
from app.extract.errors import Unsupported
from app.extract.mbox import MAX_MESSAGE_BYTES, iter_mbox, split
from app.extract.registry import extract_mailbox, is_mailbox
from tests.fixtures import mail
from tests.integration.corpus import pdf_bytes


def test_eml_with_attachments_and_metadata(tmp_path: Path) -> None:
    msg = mail.message(
        "Harbour fees for March",
        "Anna Berg <anna@example.org>",
        "Please find the fees attached.",
        attachments=[
            ("fees.pdf", pdf_bytes([["Berth 7 costs forty crowns a night"]])),
            ("notes.txt", b"The night clerk signs in green ink."),
            ("photo.bin", b"\x00\x01 not a document"),
        ],
    )
    path = tmp_path / "fees.eml"
    path.write_bytes(bytes(msg))
    doc = extract_file(path)
    assert doc.title == "Harbour fees for March"
    assert doc.metadata["from"] == "Anna Berg <anna@example.org>"
    assert doc.metadata["date"] == "2024-03-02T14:05:00+00:00"
    assert "Please find the fees attached." in doc.text
    assert "Berth 7 costs forty crowns" in doc.text and "green ink" in doc.text
    headings = {s.heading_path for s in doc.sections}
    assert ("Harbour fees for March", "Attachment: fees.pdf") in headings
    assert ("Harbour fees for March", "Attachment: notes.txt") in headings
    assert "not a document" not in doc.text


def test_html_only_message(tmp_path: Path) -> None:
    msg = mail.message("Menu", "chef@example.org", "x")
    msg.set_content("<p>Soup of the <b>day</b></p>", subtype="html")
    path = tmp_path / "menu.eml"
    path.write_bytes(bytes(msg))
    doc = extract_file(path)
    assert "Soup of the day" in doc.text and "<b>" not in doc.text


def test_broken_headers_do_not_stop_a_message(tmp_path: Path) -> None:
    raw = b"Subject: =?bogus?Q?x?=\nFrom: <<<>>>\nDate: not a date\n\nStill readable body.\n"
    path = tmp_path / "odd.eml"
    path.write_bytes(raw)
    doc = extract_file(path)
    assert "Still readable body." in doc.text and "date" not in doc.metadata


def test_mbox_split_offsets_and_from_quoting(tmp_path: Path) -> None:
    path = mail.write_mbox(tmp_path / "box.mbox", list(mail.messages(5)))
    data = path.read_bytes()
    with path.open("rb") as fh:
        raws = list(split(fh))
    assert len(raws) == 5
    for raw in raws:
        assert data[raw.start : raw.start + 5] == b"From "
    assert raws[-1].end == len(data)
    assert all(b"\nFrom the archive" in r.data for r in raws)  # ">From" unquoted


def test_mbox_resumes_at_a_message_offset(tmp_path: Path) -> None:
    path = mail.write_mbox(tmp_path / "box.mbox", list(mail.messages(6)))
    items = list(iter_mbox(path))
    later = list(iter_mbox(path, start=items[4].start))
    assert [i.document.title for i in later] == [i.document.title for i in items[4:]]  # type: ignore[union-attr]


def test_mbox_sniffed_without_extension(tmp_path: Path) -> None:
    path = mail.write_mbox(tmp_path / "Inbox", list(mail.messages(2)))
    assert is_mailbox(path)
    with pytest.raises(Unsupported, match="messages are read one by one"):
        extract_file(path)
    assert not is_mailbox(tmp_path / "missing")


def test_message_over_the_size_limit_keeps_its_start() -> None:
    body = b"Subject: big\n\nstart of a long letter\n" + b"x" * 200 + b"\n"
    data = (
        b"From a@b Mon Jan  1 00:00:00 2024\n"
        + body
        + b"From c@d Mon Jan  1 00:00:00 2024\nSubject: next\n\nhi\n"
    )
    raws = list(split(io.BytesIO(data), limit=60))
    assert raws[0].truncated and raws[0].data.startswith(b"Subject: big")
    assert not raws[1].truncated and raws[1].data.endswith(b"hi\n")
    assert MAX_MESSAGE_BYTES >= 32 << 20


def test_unquoted_from_line_in_a_body_does_not_split() -> None:
    data = (
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nline\n"
        b"From here on we walk.\n\nmore\n"
        b"From c@d Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n"
    )
    raws = list(split(io.BytesIO(data)))
    assert len(raws) == 2 and b"From here on we walk." in raws[0].data


def test_mbox_attachments_are_read(tmp_path: Path) -> None:
    path = mail.write_mbox(tmp_path / "box.mbox", list(mail.messages(11)))
    items = list(extract_mailbox(path))
    first = items[0].document
    assert first is not None and "attached pdf0" in first.text and "attached note0" in first.text
    assert items[10].document is not None and "attached pdf10" in items[10].document.text


def test_mailbox_streams_from_a_worker_and_survives_an_abandoned_stream(tmp_path: Path) -> None:
    path = mail.write_mbox(tmp_path / "box.mbox", list(mail.messages(30)))
    with ExtractorPool(1, timeout=60) as pool:
        titles = [item.document.title for item in pool.mailbox(path)]  # type: ignore[union-attr]
        assert len(titles) == 30 and titles[3].endswith("subj3")
        stream = pool.mailbox(path)
        next(stream)
        stream.close()  # the caller stops mid-stream: that worker is replaced
        assert len(list(pool.mailbox(path, start=0))) == 30


def test_maildir_message_files_are_mail(tmp_path: Path) -> None:
    paths = mail.write_maildir(tmp_path / "Mail", list(mail.messages(3)))
    assert all(p.parent.name == "new" for p in paths)  # names like 1700000000.M1P2Q3.host
    doc = extract_file(paths[1])
    assert doc.format == "eml" and doc.title.endswith("subj1")
    assert os.path.isdir(tmp_path / "Mail" / "tmp")
