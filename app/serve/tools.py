"""The MCP server: Quarry's read-only operations as tools a model can call well.

The descriptions are written for the model that reads them: when to call which tool,
what to pass, how to read more around a hit. Every tool is annotated read-only. A refusal
is a tool error whose text is the same JSON error body the HTTP API sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from app import __version__
from app.serve.api import ReadApi
from app.serve.arguments import (
    DEFAULT_CHARS,
    MAX_CHARS,
    MAX_K,
    MAX_NEIGHBOURS,
    MAX_QUERY_CHARS,
    Refusal,
    SearchRequest,
    SimilarRequest,
)

T = TypeVar("T")

INSTRUCTIONS = """\
Quarry searches the user's own documents on this computer (notes, PDFs, office files,
e-mail, web pages, code), offline, by meaning and by keywords. Use `search` whenever the
user asks about something their files may hold, then `get` to read around a hit before
quoting or summarising it, and `similar` to find other files like one already found. Cite results by their `path` (and `page` when present). Every
tool is read-only: nothing here changes, deletes or indexes files. If searches find
nothing, `status` shows whether the index is empty or still being built."""

SEARCH = """\
Search the user's indexed documents by meaning and keywords; best passages first.

Write `query` as a short natural-language description of what you want ("the plumber's
invoice from March", "how we decided on the database schema"); exact words and names
also match. Each result has `path` (absolute file path), `snippet` (the best sentences,
with `spans` marking matched words), `page` and `heading` when known, `start`/`end`
(character offsets of the passage in the document) and `score` (higher is better;
`scores` shows the vector, keyword and rerank parts). To read around a result, call
`get` with its `path` and `at` = its `start` (and, for mail, `message` = its `mail.key`). Narrow with `folder` (path prefixes),
`type` (extensions such as "pdf", "md"; "image" for photos and scans, "mail" for mail
messages) and `after`/`before` (dates, YYYY-MM-DD). Text read by OCR has `ocr` true; a mail
message is a result of its own with `mail` (subject, from, to, date)."""

GET = """\
Read an indexed document's text, exactly as Quarry extracted it for searching.

Pass `path` exactly as a search result gave it. With `at` (a result's `start`), returns
that passage with `neighbours` passages on each side: the cheapest way to read the context
of a hit. Without `at`, returns the document from `offset`, at most `max_chars`
characters; when `truncated` is true, call again with `offset` = `next_offset` to read
on. A mail message inside an mbox has offsets of its own: also pass `message` = the
result's `mail.key` to read that message (headers and body). Only files in the index can
be read; any other path is refused."""

SIMILAR = """\
Find other indexed files like one file (or like one passage of it): "more like this".

Use it once you have a good document and want its relatives (other drafts, related
notes, the rest of a correspondence), without guessing a query. Pass `path` exactly as a
search result gave it; to match one passage rather than the whole file, also pass
`passage` = that passage's `chunk` number (each entry of a result's `passages` has one).
It compares the vectors already stored in the index, so it is fast and needs no model.
The file itself is never listed. Results have the same fields as `search` results;
read one with `get`. Narrow with `folder`, `type`, `after`, `before` as in
`search`. Only files in the index are accepted; any other path is refused."""

STATUS = """\
What the index holds (folders, files by status, chunks, size), which embedding model and
reranker answer, whether indexing work is still queued, and the limits on requests.
Call it when a search finds nothing, to tell an empty or unfinished index from a miss."""

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

Query = Annotated[
    str, Field(description="What to look for, in natural language.", max_length=MAX_QUERY_CHARS)
]
K = Annotated[int, Field(description="How many results (1-50).", ge=1, le=MAX_K)]
Path = Annotated[str, Field(description="Absolute file path, exactly as a search result gave it.")]
Folder = Annotated[list[str] | None, Field(description="Only files under these folders.")]
Type = Annotated[list[str] | None, Field(description='Only these extensions, e.g. ["pdf"].')]
After = Annotated[str | None, Field(description="Modified on or after this date (YYYY-MM-DD).")]
Before = Annotated[str | None, Field(description="Modified before this date (YYYY-MM-DD).")]


def answer(call: Callable[[], T]) -> T:
    """Run an API call; a refusal becomes a tool error carrying its JSON body."""
    try:
        return call()
    except Refusal as refusal:
        raise ToolError(json.dumps(refusal.to_json(), ensure_ascii=False)) from None


def build_mcp(api: ReadApi) -> MCPServer:
    """An MCP server whose tools answer through ``api``."""
    server = MCPServer(
        "quarry", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    _add_search(server, api)
    _add_similar(server, api)
    _add_get(server, api)
    _add_status(server, api)
    return server


def _add_search(server: MCPServer, api: ReadApi) -> None:
    """The ``search`` tool."""

    @server.tool(name="search", description=SEARCH, annotations=READ_ONLY)
    def search(
        query: Query,
        k: K = 10,
        rerank: Annotated[
            bool,
            Field(
                description="Reorder the top results with the reranker, when one is set up (slower, better)."
            ),
        ] = True,
        folder: Folder = None,
        type: Type = None,
        after: After = None,
        before: Before = None,
        mode: Annotated[
            Literal["hybrid", "vector", "keyword"],
            Field(description="hybrid (default) = meaning + keywords; keyword = exact words only."),
        ] = "hybrid",
        preset: Annotated[
            str | None,
            Field(description="Query instruction preset, e.g. question_answering, code_search."),
        ] = None,
        all: Annotated[
            bool,
            Field(
                description="Also return weaker matches below the model's relevance floor "
                "(they carry weak=true). Off: only files likely to be relevant."
            ),
        ] = False,
    ) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            request = SearchRequest(
                query, k, rerank, preset, None, tuple(folder or ()), tuple(type or ()),
                after, before, mode, all,
            )  # fmt: skip
            return api.search(request)

        return answer(run)


def _add_similar(server: MCPServer, api: ReadApi) -> None:
    """The ``similar`` tool."""

    @server.tool(name="similar", description=SIMILAR, annotations=READ_ONLY)
    def similar(
        path: Path,
        passage: Annotated[
            int | None,
            Field(description="Only this passage of the file: a passage's `chunk` number.", ge=0),
        ] = None,
        k: K = 10,
        folder: Folder = None,
        type: Type = None,
        after: After = None,
        before: Before = None,
    ) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            request = SimilarRequest(
                path, passage, k, tuple(folder or ()), tuple(type or ()), after, before
            )
            return api.similar(request)

        return answer(run)


def _add_get(server: MCPServer, api: ReadApi) -> None:
    """The ``get`` tool."""

    @server.tool(name="get", description=GET, annotations=READ_ONLY)
    def get(
        path: Path,
        at: Annotated[
            int | None,
            Field(description="A character offset inside the wanted passage: a result's `start`."),
        ] = None,
        neighbours: Annotated[
            int,
            Field(
                description="Passages to add on each side of the one at `at` (0-5).",
                ge=0,
                le=MAX_NEIGHBOURS,
            ),
        ] = 1,
        offset: Annotated[
            int, Field(description="Where to start reading when `at` is not given.", ge=0)
        ] = 0,
        max_chars: Annotated[
            int, Field(description="Most characters to return (1-100000).", ge=1, le=MAX_CHARS)
        ] = DEFAULT_CHARS,
        message: Annotated[
            str | None,
            Field(description="For a mail message inside an mbox: the result's `mail.key`."),
        ] = None,
    ) -> dict[str, Any]:
        return answer(lambda: api.get(path, at, neighbours, offset, max_chars, message))


def _add_status(server: MCPServer, api: ReadApi) -> None:
    """The ``status`` tool."""

    @server.tool(name="status", description=STATUS, annotations=READ_ONLY)
    def status() -> dict[str, Any]:
        return answer(api.status)
