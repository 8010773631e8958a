"""Writes that other threads hand to the one writer thread (datasette's write queue).

The indexer's thread owns the write connection. Any other thread that must change the
index (the window retrying problem files, a dimension rebuild starting) puts a function
of the ``Store`` here and gets a ``Future``: the writer runs it on its next turn, between
its own transactions, and the answer or the exception comes back to the caller.

    future = writes.put(lambda store: store.enqueue(paths, "index"))
    future.result()           # on the caller's thread; raises what the write raised
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from storage.store import Store

T = TypeVar("T")


class WriteQueue:
    """Functions of the writer's ``Store``, run in order on the writer thread."""

    def __init__(self) -> None:
        self._items: queue.Queue[tuple[Callable[[Store], Any], Future[Any]]] = queue.Queue()

    def put(self, write: Callable[[Store], T]) -> Future[T]:
        """Queue ``write``; its result (or exception) arrives in the returned future."""
        future: Future[T] = Future()
        self._items.put((write, future))
        return future

    def empty(self) -> bool:
        """True when nothing waits."""
        return self._items.empty()

    def run(self, store: Store) -> None:
        """Writer thread: run every queued write now, each answering its own caller."""
        while True:
            try:
                write, future = self._items.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up on it
            try:
                future.set_result(write(store))
            except Exception as exc:  # the caller decides what it means
                future.set_exception(exc)

    def cancel(self) -> None:
        """No writer will run what still waits: its callers get ``CancelledError``."""
        while True:
            try:
                _, future = self._items.get_nowait()
            except queue.Empty:
                return
            future.cancel()


__all__ = ["WriteQueue"]
