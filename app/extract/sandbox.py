"""Run extraction in worker processes with a per-file time limit and a memory limit.

A pathological PDF can spin PDFium for minutes or crash it outright; in a separate process
the parent simply kills the worker, reports ``ExtractionTimeout`` for that file and starts a
fresh worker. Workers use the "spawn" start method: forking a process that already holds a
model and threads is unsafe.

Each worker caps its own address space (``RLIMIT_AS`` on POSIX; Windows would need a job
object, not done yet), so a document that would need gigabytes fails with ``MemoryError``
inside the worker and is recorded as "too much memory" instead of swapping the machine.
Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and the parent
decides what happens to in-flight files; ``close`` kills busy workers at once.

OCR runs in the same workers. A worker reports each page it has read (``("page", n, s)``)
before its final answer, and the time limit counts from the last such report: a 300-page
scan may take as long as it needs while no single page may stall it. Each page also has
its own, shorter limit inside the worker (``OcrOptions.page_timeout_s``), which skips the
page and goes on with the file.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.extract.errors import (
    ERRORS,
    Corrupt,
    ExtractionError,
    ExtractionTimeout,
    TooMuchMemory,
)
from app.extract.mbox import MailItem
from app.extract.model import Document
from app.extract.ocr.reader import OcrOptions, PageReader
from app.extract.registry import extract_file, extract_mailbox

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 120.0
#: Address space one extraction worker may use (a fresh worker with every parser: ~200 MB).
DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB"


def limit_memory(limit: int | None) -> None:
    """Cap this process's address space at ``limit`` bytes (never raising an existing cap)."""
    if limit is None:
        return
    try:
        import resource
    except ImportError:  # Windows: a job object would be needed
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    capped = limit if soft == resource.RLIM_INFINITY else min(limit, soft)
    with contextlib.suppress(ValueError, OSError):  # some systems refuse RLIMIT_AS
        resource.setrlimit(resource.RLIMIT_AS, (capped, hard))


#: One page read by OCR: (page number, seconds it took).
PageCallback = Callable[[int, float], None]


def _serve(conn: Connection, memory_limit: int | None = None) -> None:
    """Worker loop: one request at a time, answered with page reports (OCR), then a Document
    or an error tuple; a mailbox request streams its messages ("item") until "done"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(memory_limit)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        kind, path, offset, max_bytes, options, cached = request

        def report(page: int, seconds: float) -> None:
            conn.send(("page", page, seconds))

        reader = PageReader(options, cached, report)
        if kind == "mailbox":
            _stream_mailbox(conn, Path(path), offset, max_bytes, memory_limit, reader)
            continue
        reply = _extract_safely(Path(path), max_bytes, memory_limit, reader)
        if reply[0] == "error" and _reached(memory_limit):
            # Native parsers (lxml, PDFium) report a failed allocation as a parse error.
            reply = _memory_error(memory_limit)
        try:
            conn.send(reply)
        except MemoryError:  # the document fits the limit, its pickled copy does not
            conn.send(_memory_error(memory_limit))


def _stream_mailbox(
    conn: Connection,
    path: Path,
    start: int,
    max_bytes: int | None,
    memory_limit: int | None,
    reader: PageReader,
) -> None:
    """Send each message of a mailbox as it is parsed, then ("done", None, "")."""

    def send(item: MailItem) -> None:
        conn.send(("item", item, ""))

    reply = _guarded(lambda: _send_all(extract_mailbox(path, start, max_bytes, reader), send),
                     path, memory_limit)  # fmt: skip
    if reply[0] == "error" and _reached(memory_limit):
        reply = _memory_error(memory_limit)
    conn.send(("done", None, "") if reply[0] == "ok" else reply)


def _send_all(items: Iterator[MailItem], send: Callable[[MailItem], None]) -> None:
    for item in items:
        send(item)


def _peak_bytes() -> int:
    """This process's peak address space (Linux), else its peak resident size."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as fh:
            line = next(line for line in fh if line.startswith("VmPeak:"))
        return int(line.split()[1]) * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _reached(limit: int | None) -> bool:
    """Did this worker come close to its memory limit (so a failure is likely memory)?"""
    return limit is not None and sys.platform != "win32" and _peak_bytes() >= 0.8 * limit


def _memory_error(limit: int | None) -> tuple[str, Any, str]:
    over = f" (over the {_gb(limit)} limit per file)" if limit else ""
    return ("error", TooMuchMemory.__name__, f"too much memory{over}")


def _extract_safely(
    path: Path,
    max_bytes: int | None,
    memory_limit: int | None = None,
    reader: PageReader | None = None,
) -> tuple[str, Any, str]:
    """Never raise: a bug in an extractor becomes ``Corrupt`` with the traceback logged."""
    return _guarded(lambda: extract_file(path, max_bytes, reader), path, memory_limit)


def _guarded(work: Callable[[], Any], path: Path, memory_limit: int | None) -> tuple[str, Any, str]:
    """("ok", result, "") or ("error", error class name, message); never raises."""
    try:
        return ("ok", work(), "")
    except (TooMuchMemory, MemoryError):
        return _memory_error(memory_limit)
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

    def __init__(self, ctx: Any, memory_limit: int | None) -> None:
        self._ctx = ctx
        parent, child = ctx.Pipe()
        self.conn: Connection = parent
        self.process = ctx.Process(target=_serve, args=(child, memory_limit), daemon=True)
        self.process.start()
        child.close()

    def run(
        self,
        path: Path,
        max_bytes: int | None,
        timeout: float,
        ocr: tuple[OcrOptions, Mapping[int, str]],
        on_page: PageCallback | None,
    ) -> Document:
        self.conn.send(("file", str(path), 0, max_bytes, ocr[0], dict(ocr[1])))
        while True:
            reply = self.receive(timeout)
            if reply[0] != "page":
                return _unpack(reply)
            if on_page is not None:
                on_page(reply[1], reply[2])

    def receive(self, timeout: float) -> tuple[str, Any, Any]:
        """The worker's next message; the time limit counts from the previous one."""
        if not self.conn.poll(timeout):
            raise ExtractionTimeout(f"extraction took longer than {timeout:.0f} s")
        try:
            reply: tuple[str, Any, Any] = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise ExtractionTimeout(f"extraction worker crashed{self._how()}") from exc
        return reply

    def _how(self) -> str:
        """How the dead worker ended, for the reason shown to the user."""
        self.process.join(1)
        code = self.process.exitcode
        if code is None or code == 0:
            return ""
        if code < 0:
            with contextlib.suppress(ValueError):
                return f" ({signal.Signals(-code).name})"
        return f" (exit status {code})"

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self._close_conn()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self._close_conn()

    def _close_conn(self) -> None:
        # Ctrl-C closes the pool (killing busy workers) while the thread that used a
        # worker replaces it: both close the pipe, and Connection.close is not safe
        # against that race (EBADF ended the run with a traceback instead of exit 130).
        with contextlib.suppress(OSError):
            self.conn.close()


class ExtractorPool:
    """Thread-safe ``extract(path)`` backed by ``size`` worker processes.

    ``size=0`` extracts in the calling thread (tests, tiny runs) with no time or memory
    limit. Workers start lazily, so an idle app holds no extra processes.
    """

    def __init__(
        self,
        size: int = 1,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_bytes: int | None = None,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        ocr: OcrOptions | None = None,
        on_page: PageCallback | None = None,
    ) -> None:
        """``ocr``: the run's OCR choices; ``on_page`` hears of every page OCR reads."""
        self.size = size
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.memory_limit = memory_limit
        self.ocr = ocr or OcrOptions()
        self.on_page = on_page
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise _stopping()
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                worker = _Worker(self._ctx, self.memory_limit)
                self._all.append(worker)
                self._busy.add(worker)
                return worker
        worker = self._idle.get()
        with self._lock:
            self._busy.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        """A fresh worker for one that hung, died or used too much memory."""
        worker.kill()
        with self._lock:
            self._all = [w for w in self._all if w is not worker]
            if self._closed:
                return worker
            fresh = _Worker(self._ctx, self.memory_limit)
            self._all.append(fresh)
        return fresh

    def extract(self, path: Path, ocr_cached: Mapping[int, str] | None = None) -> Document:
        """Extract one file; raises an ``ExtractionError`` subclass, never hangs past timeout.

        ``ocr_cached``: pages of this file's content already read by OCR (page -> text).
        """
        cached = ocr_cached or {}
        if self.size == 0:
            reader = PageReader(self.ocr, cached, self.on_page)
            return _unpack(_extract_safely(Path(path), self.max_bytes, None, reader))
        worker = self._checkout()
        try:
            return worker.run(
                Path(path), self.max_bytes, self.timeout, (self.ocr, cached), self.on_page
            )
        except (ExtractionTimeout, TooMuchMemory) as exc:
            worker = self._replace(worker)
            if self._closed:
                raise _stopping() from exc
            raise
        finally:
            with self._lock:
                self._busy.discard(worker)
            self._idle.put(worker)

    def mailbox(self, path: Path, start: int = 0) -> Iterator[MailItem]:
        """The messages of an mbox from offset ``start``, as the worker parses them.

        The worker streams; the pipe's small buffer holds it back while the caller is busy,
        so neither side holds more than a message or two. The time limit counts per
        message. Abandoning the iteration kills the worker (it was mid-stream).
        """
        if self.size == 0:
            reader = PageReader(self.ocr, {}, self.on_page)
            yield from extract_mailbox(Path(path), start, self.max_bytes, reader)
            return
        worker = self._checkout()
        done = False
        try:
            worker.conn.send(("mailbox", str(path), start, self.max_bytes, self.ocr, {}))
            while True:
                kind, payload, message = worker.receive(self.timeout)
                if kind == "item":
                    yield payload
                elif kind == "page" and self.on_page is not None:
                    self.on_page(payload, message)
                elif kind == "done":
                    done = True
                    return
                elif kind == "error":
                    done = True
                    raise ERRORS.get(payload, Corrupt)(message)
        finally:
            if not done:  # timed out, crashed, or the caller stopped reading mid-stream
                worker = self._replace(worker)
            with self._lock:
                self._busy.discard(worker)
            self._idle.put(worker)

    @property
    def closed(self) -> bool:
        """``close`` was called: an extraction cut short now is no fault of its file."""
        return self._closed

    def close(self) -> None:
        """Stop every worker process; busy ones are killed at once (their files stay queued)."""
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
            busy = set(self._busy)
            self._started = 0
        for worker in workers:
            if worker in busy:
                worker.kill()
            else:
                worker.stop()
        while not self._idle.empty():
            self._idle.get_nowait()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stopping() -> ExtractionTimeout:
    """What an extraction cut short by ``close`` reports (retryable: nothing is wrong)."""
    return ExtractionTimeout("extraction stopped: indexing is shutting down")
