"""Quarry for other programs: an MCP server (stdio or HTTP) and a loopback HTTP JSON API.

Both answer through ``app.serve.api.ReadApi``, which searches with the same
``app.search.SearchService`` as the CLI and the window and never writes to the index.
``api`` and ``documents`` need only the base install; ``tools`` (MCP) and ``web`` (HTTP)
import the ``serve`` extra's libraries.
"""
