"""Watch folders for changes and report them, debounced, as normalised path events.

watchdog callbacks run on the observer thread and only put the raw event on a queue; the
flusher thread filters the events, walks a directory that appeared (moved in with its
files), keeps the latest change per path, and hands each path's coalesced change to
``on_changes`` once it has been quiet for ``debounce_s``, or ``max_wait_s`` after its
first unflushed event, so a file that never stops changing (a growing log) is still indexed
every few seconds. Editors that save by writing a temp file and renaming it over the
target produce one ``index`` for the target, not a delete + create. A change of mode or
owner (``on_attrib``) queues the file again: a file skipped as unreadable comes back once
its permissions are fixed.

One symlink rule for index and watch mode (``resolves_inside``): a path is indexed only
when its real location is inside the real location of the folder it was found in, and,
unless ``follow_symlinks`` is on, when no symlink is on the way at all. A link to
``/etc/shadow`` dropped into a watched folder is never read.

inotify limits (``OSError`` ENOSPC/EMFILE from ``schedule``/``start``) and network drives
fall back to watchdog's ``PollingObserver``. ``scan`` and ``reconcile`` find what changed
while the app was closed (size and mtime here; the indexer then compares content hashes).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from app.settings import DEFAULT_EXCLUDE

log = logging.getLogger(__name__)

ChangeKind = Literal["index", "delete", "move"]
_NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p"})


@dataclass(frozen=True)
class Change:
    """One coalesced change: re-index ``path``, forget it, or move ``src`` to ``path``."""

    kind: ChangeKind
    path: str
    src: str | None = None


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a ``**``-aware glob into a regex over '/'-separated relative paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@lru_cache(maxsize=64)
def _any_glob(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any of ``patterns`` (None: an empty list matches nothing)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{_glob_regex(p).pattern})" for p in patterns), re.DOTALL)


@dataclass(frozen=True)
class PathFilter:
    """Include/exclude globs matched against the path relative to its watched folder.

    Relative matching matters: ``**/.*`` must skip hidden files inside a folder, not every
    file of a folder that happens to live under ``~/.local``.
    """

    include: Sequence[str] = ("**/*",)
    exclude: Sequence[str] = field(default_factory=lambda: tuple(DEFAULT_EXCLUDE))
    follow_symlinks: bool = False

    def _matches(self, rel: str, patterns: Sequence[str]) -> bool:
        # One alternation per pattern list, not one regex per pattern: a reconcile of
        # 100,000 unchanged files spent 70% of its time here.
        combined = _any_glob(tuple(patterns))
        return combined is not None and combined.match(rel) is not None

    def accepts(self, rel: str) -> bool:
        """Should the file at folder-relative ``rel`` ('/'-separated) be indexed?"""
        rel = "/" + rel.lstrip("/")  # so "**/x" also matches at the top level
        return self._matches(rel, [f"/{p.lstrip('/')}" for p in self.include]) and not (
            self._matches(rel, [f"/{p.lstrip('/')}" for p in self.exclude])
        )

    def accepts_dir(self, rel: str) -> bool:
        """May a walk descend into folder-relative directory ``rel``?"""
        probe = "/" + rel.strip("/") + "/"
        return not self._matches(probe, [f"/{p.lstrip('/')}" for p in self.exclude])


def normalise(path: str | os.PathLike[str]) -> str:
    """Absolute, '/'-joined, without '..' or trailing slash; symlinks are *not* resolved."""
    return os.path.normpath(os.path.abspath(os.fspath(path))).replace(os.sep, "/")


def relative_to(path: str, folders: Sequence[str]) -> tuple[str, str] | None:
    """(folder, relative path) of the deepest watched folder containing ``path``."""
    best = None
    for folder in folders:
        if path.startswith(folder.rstrip("/") + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return None if best is None else (best, path[len(best.rstrip("/")) + 1 :])


def resolves_inside(path: str, folder: str, follow_symlinks: bool) -> bool:
    """May ``path``, found under ``folder``, be read? The one symlink rule of both modes.

    Its real location must lie inside ``folder``'s real location; without
    ``follow_symlinks`` it must be its own real location (no link anywhere below the folder).
    """
    real, real_root = normalise(os.path.realpath(path)), normalise(os.path.realpath(folder))
    if not follow_symlinks:
        rel = path[len(folder.rstrip("/")) + 1 :]
        return real == f"{real_root.rstrip('/')}/{rel}"
    return real.startswith(real_root.rstrip("/") + "/")


def scan(folder: str, path_filter: PathFilter) -> Iterator[tuple[str, os.stat_result]]:
    """Every indexable file under ``folder`` with its stat; symlink loops are cut.

    With ``follow_symlinks`` each directory is entered once per (device, inode), so a link
    back to an ancestor cannot loop, and a link is followed only when its target is inside
    ``folder`` (``resolves_inside``); without it, links are not followed at all.
    """
    root = normalise(folder)
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            info = os.stat(current)
            entries = list(os.scandir(current))
        except OSError as exc:
            log.warning("cannot list %s: %s", current, exc)
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in entries:
            full = f"{current}/{entry.name}"
            rel = full[len(root) + 1 :]
            try:
                is_link = entry.is_symlink()
                if is_link and not (
                    path_filter.follow_symlinks and resolves_inside(full, root, True)
                ):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    if path_filter.accepts_dir(rel):
                        stack.append(full)
                elif path_filter.accepts(rel):
                    yield full, entry.stat(follow_symlinks=True)
            except OSError:  # dangling link, symlink loop (ELOOP), vanished entry
                if path_filter.accepts(rel):
                    yield full, os.lstat(full)


def reconcile(
    folder: str, path_filter: PathFilter, known: Mapping[str, tuple[int, float]]
) -> tuple[list[str], list[str]]:
    """(paths new or changed by size/mtime, known paths gone from disk) under ``folder``.

    ``known`` maps indexed paths under this folder to their recorded (size, mtime). One
    stat per file and no reads: an unchanged file costs a dict lookup. Changed paths come
    most recently modified first, so the files the user touched last are indexed first.
    """
    changed: list[tuple[float, str]] = []
    present: set[str] = set()
    for path, info in scan(folder, path_filter):
        present.add(path)
        recorded = known.get(path)
        if recorded is None or recorded[0] != info.st_size or recorded[1] != info.st_mtime:
            changed.append((info.st_mtime, path))
    gone = [p for p in known if p not in present]
    changed.sort(key=lambda item: (-item[0], item[1]))
    return [path for _, path in changed], gone


def permission_restored(denied: Iterable[str]) -> list[str]:
    """Of the files skipped as "permission denied", those this process can read now.

    A chmod changes neither size nor mtime, so ``reconcile`` alone would never look at
    them again; this is the second look.
    """
    return [path for path in denied if os.access(path, os.R_OK)]


def is_network_path(path: str) -> bool:
    """True for UNC paths and mounts whose filesystem type is a network one (Linux)."""
    if path.startswith(("//", "\\\\")):
        return True
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            mounts = [line.split()[1:3] for line in fh if len(line.split()) > 2]
    except OSError:
        return False
    best = max((m for m in mounts if path == m[0] or path.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)  # fmt: skip
    return best is not None and best[1] in _NETWORK_FS


_Event = tuple[str, str, str]  # (what, path, destination of a move or "")


class _Handler(FileSystemEventHandler):
    """Turns raw watchdog events into queued entries for the Watcher; no I/O at all.

    Callbacks run on the observer thread, which must keep up with the kernel's event
    queue: a directory of 10,000 files moved in must not be walked here. The flusher
    thread takes the entries and does the filtering, the symlink checks and the walks.
    """

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        self._put("dir" if event.is_directory else "index", event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._put("index", event.src_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._put("index", event.src_path)

    def on_deleted(self, event: FileSystemEvent) -> None:
        self._put("delete", event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self._put("delete", event.src_path)
            self._put("dir", event.dest_path)
        else:
            self._put("move", event.src_path, event.dest_path)

    def on_attrib(self, event: FileSystemEvent) -> None:
        """Mode or owner changed: an unreadable file (or folder) may be readable now."""
        self._put("dir" if event.is_directory else "index", event.src_path)

    def _put(self, what: str, path: bytes | str, dest: bytes | str = "") -> None:
        self._watcher.enqueue((what, os.fsdecode(path), os.fsdecode(dest)))


@dataclass
class _Pending:
    """A change waiting to be delivered: due at ``due``, first seen at ``since``."""

    change: Change
    due: float
    since: float


class Watcher:
    """Observes folders; calls ``on_changes(list[Change])`` from its flusher thread."""

    def __init__(
        self,
        folders: Sequence[str],
        path_filter: PathFilter,
        on_changes: Callable[[list[Change]], None],
        *,
        debounce_s: float = 0.5,
        max_wait_s: float = 5.0,
        force_polling: bool = False,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.folders = [normalise(f) for f in folders]
        self.filter = path_filter
        self._on_changes = on_changes
        self._debounce = debounce_s
        self._max_wait = max(max_wait_s, debounce_s)
        self._force_polling = force_polling
        self._poll_interval = poll_interval_s
        self._pending: dict[str, _Pending] = {}
        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()  # from the observers
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observers: list[BaseObserver] = []
        self._flusher: threading.Thread | None = None
        self.polling: list[str] = []  # folders watched by polling (for status display)

    # ---- event intake (observer thread: enqueue only) ----------------------------------

    def enqueue(self, event: _Event) -> None:
        """Observer thread: hand a raw event to the flusher thread; nothing else."""
        self._events.put(event)
        self._wake.set()

    # ---- event handling (flusher thread) -----------------------------------------------

    def _intake(self) -> None:
        """Turn the queued raw events into pending changes (walking new directories)."""
        while True:
            try:
                what, path, dest = self._events.get_nowait()
            except queue.Empty:
                return
            if what == "dir":
                self.note_dir(path)
            elif what == "move":
                self.note_move(path, dest)
            else:
                self.note("delete" if what == "delete" else "index", path)

    def _accepts(self, path: str) -> bool:
        """Inside a watched folder, matching the filter, and not escaping it by a link."""
        located = relative_to(path, self.folders)
        return (
            located is not None
            and self.filter.accepts(located[1])
            and resolves_inside(path, located[0], self.filter.follow_symlinks)
        )

    def _put(self, change: Change) -> None:
        """Queue ``change``, due after the debounce but never later than the maximum wait."""
        now = time.monotonic()
        with self._lock:
            earlier = self._pending.get(change.path)
            since = earlier.since if earlier is not None else now
            due = min(now + self._debounce, since + self._max_wait)
            self._pending[change.path] = _Pending(change, due, since)
        self._wake.set()

    def note(self, kind: ChangeKind, raw_path: str) -> None:
        """Record that ``raw_path`` was written (kind "index") or removed ("delete").

        A path that became a link out of its folder is forgotten, like a deleted file.
        """
        path = normalise(raw_path)
        if relative_to(path, self.folders) is None:
            return
        if kind == "delete" or not self._accepts(path):
            if kind == "delete" or os.path.islink(path):  # may be a dir: indexer expands
                self._put(Change("delete", path))
        else:
            self._put(Change("index", path))

    def note_move(self, raw_src: str, raw_dest: str) -> None:
        """A rename: keep vectors when both ends are indexable; else index/delete one end."""
        src, dest = normalise(raw_src), normalise(raw_dest)
        src_ok, dest_ok = self._accepts(src), self._accepts(dest)
        with self._lock:
            queued = self._pending.pop(src, None)
        if not dest_ok:
            if src_ok:
                self._put(Change("delete", src))
        elif not src_ok or (queued is not None and queued.change.kind == "index"):
            # save-by-rename from a temp file, or a file still waiting to be indexed
            self._put(Change("index", dest))
        else:
            self._put(Change("move", dest, src))

    def note_dir(self, raw_path: str) -> None:
        """A directory appeared (created or moved in): index what it contains."""
        path = normalise(raw_path)
        located = relative_to(path, self.folders)
        if located is None or not self.filter.accepts_dir(located[1]):
            return
        if not resolves_inside(path, located[0], self.filter.follow_symlinks):
            return
        for file_path, _ in scan(path, self.filter):
            if self._accepts(file_path):
                self._put(Change("index", file_path))

    # ---- delivery (flusher thread) ----------------------------------------------------

    def _due(self) -> tuple[list[Change], float | None]:
        now = time.monotonic()
        with self._lock:
            due = [p for p, pending in self._pending.items() if pending.due <= now]
            changes = [self._pending.pop(p).change for p in due]
            nxt = min((pending.due for pending in self._pending.values()), default=None)
        return changes, None if nxt is None else max(0.0, nxt - now)

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the intake: an event queued after it wakes the wait
            self._intake()
            changes, wait = self._due()
            if changes:
                try:
                    self._on_changes(changes)
                except Exception:  # a consumer bug must not kill watching
                    log.exception("change consumer failed")
            self._wake.wait(timeout=wait if wait is not None else 1.0)

    def flush(self) -> None:
        """Deliver everything pending now (used when stopping)."""
        self._intake()
        with self._lock:
            changes = [pending.change for pending in self._pending.values()]
            self._pending.clear()
        if changes:
            self._on_changes(changes)

    # ---- lifecycle --------------------------------------------------------------------

    def _start_observer(self, folder: str) -> BaseObserver:
        """Native observer; on inotify limits or network drives a polling one."""
        handler = _Handler(self)
        if not self._force_polling and not is_network_path(folder):
            observer: BaseObserver = Observer()
            try:
                observer.schedule(handler, folder, recursive=True)
                observer.start()
                return observer
            except OSError as exc:
                log.warning("native watching of %s failed (%s); polling instead", folder, exc)
                observer.stop()
        observer = PollingObserver(timeout=self._poll_interval)
        observer.schedule(handler, folder, recursive=True)
        observer.start()
        self.polling.append(folder)
        return observer

    def start(self) -> None:
        """Start one observer per folder and the flusher thread."""
        self._stop.clear()
        for folder in self.folders:
            if os.path.isdir(folder):
                self._observers.append(self._start_observer(folder))
            else:
                log.warning("watched folder %s does not exist", folder)
        self._flusher = threading.Thread(target=self._flush_loop, name="watch-flush", daemon=True)
        self._flusher.start()

    def stop(self) -> None:
        """Stop observers and deliver pending changes; safe to call twice."""
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join(timeout=5)
        self._observers.clear()
        self._stop.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
            self._flusher = None
        self.flush()
