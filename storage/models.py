"""Plain dataclasses the store returns and accepts: callers never see SQL rows.

Times are POSIX seconds (float). Character offsets index the file's extracted text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

FileStatus = Literal["ok", "skipped", "failed", "pending"]
JobKind = Literal["index", "delete"]
FILE_STATUSES: tuple[FileStatus, ...] = ("ok", "skipped", "failed", "pending")


@dataclass(frozen=True)
class Folder:
    """A watched root folder."""

    id: int
    path: str
    added_at: float


@dataclass(frozen=True)
class FileRecord:
    """One file the index knows about, whatever became of it.

    ``status`` is ok (chunks written), skipped (deliberately not indexed, ``error`` says why),
    failed (an error, ``retries`` counts attempts) or pending (a mail file whose first read
    began, ``start_mailbox``, and has not finished: reconcile reads it again).
    """

    id: int
    path: str
    size: int
    mtime: float
    content_hash: str
    status: FileStatus
    error: str | None = None
    retries: int = 0
    indexed_at: float | None = None
    folder_id: int | None = None
    title: str = ""  # the document's own title (HTML <title>, mail subject), if any
    needs_ocr: int = 0  # pages (or images) left unread because OCR was off

    @property
    def extension(self) -> str:
        """Lower-case extension without the dot ('' when none), as filters use it."""
        return file_extension(self.path)


@dataclass(frozen=True)
class NewChunk:
    """A chunk the pipeline hands to ``Store.write_file``.

    ``content_hash`` identifies the text *as embedded* (heading prefix included when the
    fingerprint says so): two chunks with the same hash share one vector.
    """

    ordinal: int
    text: str
    start: int
    end: int
    content_hash: str
    token_count: int = 0
    page: int | None = None  # page or slide number, 1-based
    heading: str | None = None  # heading path, e.g. "Intro > Setup"
    ocr: bool = False  # recognised in an image by OCR
    doc: int | None = None  # index of its document in the write's ``documents`` (mail)
    #: The first chunk of a file or message: where its lead ends in ``text`` (0: no lead)
    #: and the lead's content hash (``app.chunker.Chunker.lead``); None on other chunks.
    lead_end: int | None = None
    lead_hash: str | None = None


@dataclass(frozen=True)
class NewDocument:
    """One message of a mail file, written with its chunks (``NewChunk.doc`` points here).

    ``key`` identifies it inside its file (an mbox message's byte offset; "" for a file
    that is one message); ``date`` is ISO 8601.
    """

    key: str
    title: str = ""
    sender: str = ""
    recipients: str = ""
    date: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentInfo:
    """A stored message: what a result row and the preview say about it."""

    id: int
    key: str
    title: str
    sender: str
    recipients: str
    date: str


@dataclass(frozen=True)
class Chunk:
    """A stored chunk, with the file it belongs to."""

    id: int
    file_id: int
    path: str
    ordinal: int
    text: str
    start: int
    end: int
    content_hash: str
    token_count: int = 0
    page: int | None = None
    heading: str | None = None
    mtime: float = 0.0
    size: int = 0
    ocr: bool = False
    doc_id: int | None = None


@dataclass(frozen=True)
class Fingerprint:
    """Everything that changes the vectors of a document: a different one means re-embedding.

    Query instructions are not part of it: they change only the query side.
    """

    model_id: str
    revision: str
    dim: int
    pooling: str
    doc_instruction: str = ""
    chunker_version: str = ""
    heading_prefix: bool = False

    @property
    def key(self) -> str:
        """Stable short identity, equal for equal fingerprints across runs and machines."""
        blob = json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """Serialised form stored in the database."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        """Inverse of ``to_json``; unknown keys (from newer versions) are dropped."""
        raw = json.loads(text)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)

    def query_compatible(self, other: Fingerprint) -> bool:
        """Can a query embedded under ``other`` search vectors made under ``self``?

        Only the embedding space matters here (model, revision, dim, pooling, document
        instruction); chunking does not change what a query vector means. An empty revision
        is "unknown" and matches any revision.
        """
        same_rev = not self.revision or not other.revision or self.revision == other.revision
        return (
            self.model_id == other.model_id
            and same_rev
            and self.dim == other.dim
            and self.pooling == other.pooling
            and self.doc_instruction == other.doc_instruction
        )

    def describe(self) -> str:
        """Human wording for messages: model, revision, dimension."""
        rev = f"@{self.revision[:12]}" if self.revision else ""
        return f"{self.model_id}{rev} ({self.dim}-d, {self.pooling} pooling)"

    def describe_against(self, other: Fingerprint) -> str:
        """``describe()``, plus the chunking or document instruction when only they differ
        (two fingerprints that read the same would make a mismatch message a riddle)."""
        if self.describe() != other.describe():
            return self.describe()
        if self.chunker_version != other.chunker_version:
            return f"{self.describe()}, chunking {self.chunker_version}"
        if self.heading_prefix != other.heading_prefix:
            words = "with" if self.heading_prefix else "without"
            return f"{self.describe()}, {words} headings in the embedded text"
        return f"{self.describe()}, document instruction {self.doc_instruction!r}"


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied inside a search (never by trimming a finished top-k).

    ``folders`` are path prefixes; ``extensions`` are lower-case without dots;
    ``folder_names`` match a whole folder name anywhere in the path and ``path_parts`` any
    text in it (ASCII case-insensitively). ``phrases`` must occur in a chunk (words in
    order); a file holding any of ``excluded`` is left out whole.
    ``mail_only`` keeps mail messages; ``senders`` keeps messages whose From header
    contains one of them (case-insensitive). ``languages`` keeps passages whose detected
    language (``storage.lexical.detect``, ISO 639-1) is one of them.
    """

    folders: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None
    size_min: int | None = None
    size_max: int | None = None
    folder_names: tuple[str, ...] = ()
    path_parts: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    mail_only: bool = False
    senders: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True when any restriction is set."""
        return bool(
            self.folders
            or self.extensions
            or self.mail_only
            or self.senders
            or self.languages
            or self.modified_after is not None
            or self.modified_before is not None
            or self.size_min is not None
            or self.size_max is not None
            or self.folder_names
            or self.path_parts
            or self.phrases
            or self.excluded
        )


@dataclass(frozen=True)
class Hit:
    """One ranked chunk from a single retriever (vector or keyword)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class Job:
    """A persisted unit of pipeline work."""

    id: int
    path: str
    kind: JobKind
    attempts: int = 0


# Phase-2 priority bands: a file the user opened from the results beats one that matched a
# search, which beats the rest (then: fewest slices taken, most recently modified).
BAND_SEARCHED = 1
BAND_OPENED = 2


@dataclass(frozen=True)
class PendingChunk:
    """A stored chunk whose content hash still lacks a vector in the index being filled."""

    file_id: int
    content_hash: str
    text: str
    heading: str | None
    token_count: int


@dataclass(frozen=True)
class EmbedWork:
    """One phase-2 batch: distinct chunks to embed, and the files whose backlog it settles.

    ``file_ids`` may include files with nothing left to embed (their chunks' vectors came
    with another file); ``Store.add_vectors`` drops those from the backlog as well.
    """

    chunks: list[PendingChunk]
    file_ids: list[int]

    @property
    def tokens(self) -> int:
        """Tokens of the chunk texts (heading prefixes excluded)."""
        return sum(c.token_count for c in self.chunks)


@dataclass(frozen=True)
class Backlog:
    """Files (and their chunks, tokens) still waiting for vectors in one index."""

    files: int = 0
    chunks: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class Stamps:
    """What reconcile needs of one folder's indexed files, from one range scan.

    ``known``: path -> (size, mtime); ``retry``: paths worth another try; ``denied``: files
    skipped as "permission denied"; ``skipped`` / ``failed``: files settled that way (failed
    ones out of retries), so a run can count every unchanged file under its real status.
    """

    known: dict[str, tuple[int, float]]
    retry: list[str]
    denied: list[str]
    skipped: set[str]
    failed: set[str]


@dataclass(frozen=True)
class ProblemFile:
    """A skipped or failed file with its reason, for status reports."""

    path: str
    status: FileStatus
    error: str | None
    retries: int


@dataclass(frozen=True)
class Stats:
    """What ``quarry status`` reports."""

    files: dict[str, int]
    chunks: int
    embeddings: int
    db_bytes: int
    fingerprint: Fingerprint | None
    rebuilding: Fingerprint | None
    queued_jobs: int
    problems: list[ProblemFile] = field(default_factory=list)
    keyword_files: int = 0  # files whose chunks and keywords are written (phase 1 done)
    meaning_files: int = 0  # of those, files with every chunk's vector in the active index
    backlog: Backlog = field(default_factory=Backlog)  # phase 2, active index
    rebuild_backlog: Backlog | None = None  # phase 2 of the index being rebuilt, if any
    embed_tokens_per_s: float = 0.0  # last measured embedding speed (0 = not measured yet)


def file_extension(path: str) -> str:
    """Lower-case extension of ``path`` without the dot; '' for none or dotfiles."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""
