"""The query language, parsed once for the CLI, the window and the search service.

    "exact phrase"      passages must contain these words in this order
    -word, -"a phrase"  leave out files that contain it
    type:pdf, ext:md    only files of these extensions (``type:pdf,docx`` for several);
                        ``type:image`` every image format (photos, scans), ``type:mail``
                        only mail messages
    from:alice          only mail whose sender (name or address) contains this
    in:Projects         only files under a folder of that name (or an absolute folder)
    path:invoice        only files whose path contains this text
    after:2024-05       modified on or after (ISO dates, today, yesterday, last week, ...)
    before:yesterday    modified before
    lang:de             only passages whose detected language is German (ISO 639-1 codes,
                        ``lang:de,fr`` for several; the language keyword search stems by)

Values may be quoted (``in:"My Projects"``, ``after:"last week"``) and a natural date of
two or three words may follow unquoted (``after:last week``, ``after:3 days ago``).
Operator names are case-insensitive. Anything that is not a well-formed operator (an
unknown name such as ``http:``, an empty value, a date that is no date, an unbalanced quote)
is searched as plain words: a query never fails to parse.

``ParsedQuery.operators`` lists what was recognised with its place in the query, so the
window can show each as a removable chip and take it out of the text again (``without``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from app.dates import LEADING_WORDS, parse_period
from storage.models import SearchFilters

Kind = Literal["type", "in", "path", "after", "before", "exclude", "from", "lang"]
_NAMES: dict[str, Kind] = {
    "type": "type",
    "ext": "type",
    "in": "in",
    "folder": "in",
    "path": "path",
    "after": "after",
    "since": "after",
    "before": "before",
    "from": "from",
    "lang": "lang",
    "language": "lang",
}
#: ``type:`` words that are no extension: ``mail`` keeps mail messages (Maildir files have
#: no extension), ``image`` means every image format OCR reads.
MAIL_TYPE = "mail"
IMAGE_TYPE = "image"
#: Extensions that mean the same kind of file (``type:html`` also finds ``.htm``).
FAMILIES = {
    "html": ("html", "htm", "xhtml"),
    "htm": ("html", "htm", "xhtml"),
    "md": ("md", "markdown"),
    "markdown": ("md", "markdown"),
    "text": ("txt",),
    "word": ("docx", "docm"),
    "excel": ("xlsx", "xlsm"),
    "powerpoint": ("pptx",),
    "yaml": ("yaml", "yml"),
    "jpeg": ("jpg", "jpeg"),
}
_EXT = re.compile(r"\.?[\w+-]{1,16}")
# A token: an optional "-", then either a quoted string or a run of non-space characters
# (a run may hold one quoted value after a colon: in:"My Projects").
_TOKEN = re.compile(r'-?"[^"]*"|[^\s"]+:"[^"]*"|[^\s"]+|"')
_OPERATOR = re.compile(r'([A-Za-z]+):(?:"([^"]*)"|(\S*))$')
_FOLLOWERS = re.compile(r"\s+(\S+)")


@dataclass(frozen=True)
class Operator:
    """One recognised filter: what it does, and where its text sits in the query."""

    kind: Kind
    value: str
    start: int
    end: int

    @property
    def label(self) -> str:
        """Chip text, e.g. "type: pdf", "after: last week", "without: java"."""
        name = "without" if self.kind == "exclude" else self.kind
        return f"{name}: {self.value}"


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into what to search for and how to restrict it."""

    source: str
    text: str  # the words to search for, phrases and unrecognised operators included
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()  # absolute folders (in:/home/me/Projects)
    folder_names: tuple[str, ...] = ()  # folder names anywhere in the path (in:Projects)
    path_parts: tuple[str, ...] = ()
    mail_only: bool = False
    senders: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    after: float | None = None
    before: float | None = None
    operators: tuple[Operator, ...] = field(default=())

    def filters(self, base: SearchFilters | None = None) -> SearchFilters:
        """``base`` (dropdowns, CLI options) narrowed by this query's operators."""
        base = base or SearchFilters()
        after = _latest(base.modified_after, self.after)
        before = _earliest(base.modified_before, self.before)
        return replace(
            base,
            folders=self.folders or base.folders,
            extensions=self.extensions or base.extensions,
            modified_after=after,
            modified_before=before,
            folder_names=base.folder_names + self.folder_names,
            path_parts=base.path_parts + self.path_parts,
            phrases=base.phrases + self.phrases,
            excluded=base.excluded + self.excluded,
            mail_only=base.mail_only or self.mail_only,
            senders=base.senders + self.senders,
            languages=self.languages or base.languages,
        )

    def without(self, operator: Operator) -> str:
        """The query text with ``operator`` taken out (a chip's close button)."""
        head = self.source[: operator.start].rstrip()
        tail = self.source[operator.end :].lstrip()
        return f"{head} {tail}".strip() if head and tail else head + tail

    def of_kind(self, kind: Kind) -> list[Operator]:
        """The operators of one kind, in order."""
        return [op for op in self.operators if op.kind == kind]


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def extensions_of(value: str) -> tuple[str, ...] | None:
    """``pdf,md`` -> ("pdf", "md", "markdown"); None when any part is no extension.

    ``image`` stands for every image format; ``mail`` is no extension and adds nothing
    (``types_of`` reads it)."""
    out: list[str] = []
    for part in value.lower().split(","):
        if not _EXT.fullmatch(part):
            return None
        word = part.lstrip(".")
        if word == IMAGE_TYPE:
            out += _image_extensions()
        elif word != MAIL_TYPE:
            out += FAMILIES.get(word, (word,))
    return tuple(dict.fromkeys(out)) or None


def languages_of(value: str) -> tuple[str, ...] | None:
    """``de`` or ``de,fr`` as language codes; None unless every part is a two-letter code
    (``lang:german`` stays plain words rather than filtering everything out)."""
    codes = tuple(c.strip().lower() for c in value.split(","))
    if not all(re.fullmatch(r"[a-z]{2}", c) for c in codes):
        return None
    return codes


def types_of(value: str) -> tuple[tuple[str, ...], bool] | None:
    """A ``type:`` value (or ``--type`` words) as (extensions, mail only); None when any
    part is no extension. ``type:mail`` alone restricts to messages, no extension."""
    mail = MAIL_TYPE in [p.strip().lower().lstrip(".") for p in value.split(",")]
    if mail and all(p.strip().lower().lstrip(".") == MAIL_TYPE for p in value.split(",")):
        return (), True
    exts = extensions_of(value)
    return None if exts is None else (exts, mail)


def type_words(words: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """``--type`` words (CLI, servers) as (extensions, mail only): each word is an extension
    as given, except ``image`` (every image format) and ``mail`` (messages only)."""
    out: list[str] = []
    mail = False
    for word in (w.lower().lstrip(".") for w in words):
        if word == MAIL_TYPE:
            mail = True
        else:
            out += _image_extensions() if word == IMAGE_TYPE else [word]
    return tuple(dict.fromkeys(out)), mail


def _image_extensions() -> list[str]:
    from app.extract.images import IMAGE_EXTS  # Pillow: only when type:image is asked

    return [ext.lstrip(".") for ext in IMAGE_EXTS]


@dataclass
class _Builder:
    """Collects a query's parts while the tokens are read."""

    source: str
    words: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)
    dates: dict[str, float] = field(default_factory=dict)
    operators: list[Operator] = field(default_factory=list)

    def add(self, name: str, *values: str) -> None:
        self.fields.setdefault(name, []).extend(values)

    def operator(self, kind: Kind, value: str, start: int, end: int) -> None:
        self.operators.append(Operator(kind, value, start, end))

    def build(self) -> ParsedQuery:
        get = self.fields.get
        return ParsedQuery(
            source=self.source,
            text=" ".join(self.words),
            phrases=tuple(get("phrases", [])),
            excluded=tuple(get("excluded", [])),
            extensions=tuple(dict.fromkeys(get("extensions", []))),
            folders=tuple(get("folders", [])),
            folder_names=tuple(get("folder_names", [])),
            path_parts=tuple(get("path_parts", [])),
            mail_only=bool(get("mail_only")),
            senders=tuple(get("senders", [])),
            languages=tuple(dict.fromkeys(get("languages", []))),
            after=self.dates.get("after"),
            before=self.dates.get("before"),
            operators=tuple(self.operators),
        )


def parse(query: str, now: datetime | None = None) -> ParsedQuery:
    """Read ``query`` (see the module docstring); never raises."""
    out = _Builder(query)
    pos = 0
    while m := _TOKEN.search(query, pos):
        pos = _read_token(query, m, out, now)
    return out.build()


def _read_token(query: str, m: re.Match[str], out: _Builder, now: datetime | None) -> int:
    """Handle the token ``m``; returns where reading goes on."""
    token, start, end = m[0], m.start(), m.end()
    if token == '"':  # an unbalanced quote: the rest is plain words
        return end
    if token.startswith('"'):
        _phrase(token[1:-1], out)
        return end
    if token.startswith("-") and len(token) > 1 and not token.startswith("--"):
        return _exclusion(token[1:], start, end, out)
    if (op := _OPERATOR.match(token)) and op[1].lower() in _NAMES:
        done = _operator(query, op, start, end, out, now)
        if done is not None:
            return done
    out.words += _plain(token)
    return end


def _plain(token: str) -> list[str]:
    """A token searched as words: quotes and operator colons become spaces."""
    return [w for w in re.split(r'[\s":]+', token) if w]


def _phrase(text: str, out: _Builder) -> None:
    words = text.split()
    out.words += words
    if len(words) > 1:
        out.add("phrases", " ".join(words))


def _exclusion(body: str, start: int, end: int, out: _Builder) -> int:
    value = body[1:-1].strip() if body.startswith('"') and body.endswith('"') else body
    if not value or not re.search(r"\w", value):
        out.words += _plain(body)
        return end
    out.add("excluded", value)
    out.operator("exclude", value, start, end)
    return end


def _operator(
    query: str, op: re.Match[str], start: int, end: int, out: _Builder, now: datetime | None
) -> int | None:
    """Apply one ``name:value``; None when it is malformed (then it is plain words)."""
    kind = _NAMES[op[1].lower()]
    value = (op[2] if op[2] is not None else op[3]).strip()
    if not value:
        return None
    if kind in ("after", "before"):
        return _date_operator(query, kind, value, start, end, out, now, quoted=op[2] is not None)
    if kind == "type":
        types = types_of(value)
        if types is None:
            return None
        out.add("extensions", *types[0])
        if types[1]:
            out.add("mail_only", MAIL_TYPE)
    elif kind == "from":
        out.add("senders", value)
    elif kind == "lang":
        codes = languages_of(value)
        if codes is None:
            return None
        out.add("languages", *codes)
    elif kind == "in":
        absolute = value.startswith(("/", "~")) or re.match(r"[A-Za-z]:[\\/]", value)
        if absolute:
            out.add("folders", os.path.expanduser(value).rstrip("/\\") or "/")
        else:
            out.add("folder_names", value.strip("/\\"))
    else:
        out.add("path_parts", value)
    out.operator(kind, value, start, end)
    return end


def _date_operator(
    query: str,
    kind: Kind,
    value: str,
    start: int,
    end: int,
    out: _Builder,
    now: datetime | None,
    *,
    quoted: bool,
) -> int | None:
    """``after:``/``before:``, reading on for "last week" or "3 days ago" when unquoted."""
    candidates = [(value, end)]
    if not quoted:
        candidates = _longer_dates(query, value, end) + candidates
    for text, stop in candidates:
        period = parse_period(text, now)
        if period is not None:
            out.dates[kind] = period.start
            out.operator(kind, text, start, stop)
            return stop
    return None


def _longer_dates(query: str, value: str, end: int) -> list[tuple[str, int]]:
    """``value`` plus the next one or two words, longest first, when a date may go on."""
    starts_long = value.lower() in LEADING_WORDS or value.isdigit()
    if not starts_long:
        return []
    out: list[tuple[str, int]] = []
    text, stop = value, end
    for _ in range(2):
        m = _FOLLOWERS.match(query, stop)
        if m is None or ":" in m[1] or '"' in m[1]:
            break
        text, stop = f"{text} {m[1]}", m.end()
        out.insert(0, (text, stop))
    return out


def with_operator(parsed: ParsedQuery, kind: Kind, value: str | None) -> str:
    """The query text with every ``kind`` operator replaced by ``kind:value`` (or removed
    when ``value`` is None): what a dropdown change does to a query that names the filter."""
    text = parsed.source
    for op in sorted(parsed.of_kind(kind), key=lambda o: -o.start):
        text = ParsedQuery(source=text, text="").without(op)
    if value is None:
        return text
    shown = f'"{value}"' if re.search(r'[\s"]', value) else value
    return f"{text} {kind}:{shown}".strip()
