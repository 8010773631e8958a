"""Run extraction in worker processes with a per-file time limit.

A pathological PDF can spin PDFium for minutes or crash it outright; in a separate process
the parent simply kills the worker, reports ``ExtractionTimeout`` for that file and starts a
fresh worker. Workers use the "spawn" start method: forking a process that already holds a
model and threads is unsafe.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import queue
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.extract.errors import ERRORS, Corrupt, ExtractionError, ExtractionTimeout
from app.extract.model import Document
from app.extract.registry import extract_file

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 120.0


def _serve(conn: Connection) -> None:
    """Worker loop: receive (path, max_bytes), send back a Document or an error tuple."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if request is None:
            return
        path, max_bytes = request
        conn.send(_extract_safely(Path(path), max_bytes))


def _extract_safely(path: Path, max_bytes: int | None) -> tuple[str, Any, str]:
    """Never raise: a bug in an extractor becomes ``Corrupt`` with the traceback logged."""
    try:
        return ("ok", extract_file(path, max_bytes), "")
    except ExtractionError as exc:
        return ("error", type(exc).__name__, str(exc))
    except Exception as exc:
        log.error("extractor bug on %s:\n%s", path, traceback.format_exc())
        return ("error", "Corrupt", f"could not parse: {type(exc).__name__}: {exc}")


def _unpack(reply: tuple[str, Any, str]) -> Document:
    kind, payload, message = reply
    if kind == "ok":
        assert isinstance(payload, Document)
        return payload
    raise ERRORS.get(payload, Corrupt)(message)


class _Worker:
    """One child process and its pipe; replaced wholesale when it hangs or dies."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        parent, child = ctx.Pipe()
        self.conn: Connection = parent
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def run(self, path: Path, max_bytes: int | None, timeout: float) -> Document:
        self.conn.send((str(path), max_bytes))
        if not self.conn.poll(timeout):
            raise ExtractionTimeout(f"extraction took longer than {timeout:.0f} s")
        try:
            return _unpack(self.conn.recv())
        except (EOFError, OSError) as exc:
            raise ExtractionTimeout("extraction worker crashed") from exc

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


class ExtractorPool:
    """Thread-safe ``extract(path)`` backed by ``size`` worker processes.

    ``size=0`` extracts in the calling thread (tests, tiny runs) with no time limit.
    Workers start lazily, so an idle app holds no extra processes.
    """

    def __init__(
        self, size: int = 1, timeout: float = DEFAULT_TIMEOUT_S, max_bytes: int | None = None
    ) -> None:
        self.size = size
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                worker = _Worker(self._ctx)
                self._all.append(worker)
                return worker
        return self._idle.get()

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self._ctx)
        with self._lock:
            self._all = [w for w in self._all if w is not worker] + [fresh]
        return fresh

    def extract(self, path: Path) -> Document:
        """Extract one file; raises an ``ExtractionError`` subclass, never hangs past timeout."""
        if self.size == 0:
            return _unpack(_extract_safely(Path(path), self.max_bytes))
        worker = self._checkout()
        try:
            return worker.run(Path(path), self.max_bytes, self.timeout)
        except ExtractionTimeout:
            worker = self._replace(worker)
            raise
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every worker process."""
        with self._lock:
            workers, self._all = self._all, []
            self._started = 0
        for worker in workers:
            worker.stop()
        while not self._idle.empty():
            self._idle.get_nowait()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
