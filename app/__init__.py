"""Quarry application: UI, CLI and the Qt-free services (watcher, extractors, chunker, indexer, search)."""

__version__ = "0.1.0"
