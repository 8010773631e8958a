"""Watcher: glob filtering, scans without symlink loops, debounced real watchdog events."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from app.watcher import (
    Change,
    PathFilter,
    Watcher,
    normalise,
    permission_restored,
    reconcile,
    resolves_inside,
    scan,
)


def test_filter_defaults_skip_hidden_and_build_dirs() -> None:
    f = PathFilter()
    assert f.accepts("notes.txt") and f.accepts("a/b/report.pdf")
    for rel in (".hidden", "a/.git/config", "node_modules/x/index.js", "build/out.txt",
                "pkg/__pycache__/m.pyc", "x.pyc", "a/.cache/y"):  # fmt: skip
        assert not f.accepts(rel), rel
    assert not f.accepts_dir(".git") and not f.accepts_dir("a/node_modules")
    assert f.accepts_dir("docs")
    only_md = PathFilter(include=["**/*.md"], exclude=[])
    assert only_md.accepts("a/b.md") and only_md.accepts("b.md") and not only_md.accepts("c.txt")


def test_scan_cuts_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")
    (tmp_path / "self").symlink_to(tmp_path / "self")
    for follow in (False, True):
        found = [p for p, _ in scan(str(tmp_path), PathFilter(follow_symlinks=follow))]
        assert normalise(tmp_path / "a/b/f.txt") in found
        assert len(found) == len(set(found)) <= 3


def test_reconcile_finds_new_changed_and_gone(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_text("same")
    (tmp_path / "edited.txt").write_text("new content")
    (tmp_path / "new.txt").write_text("n")
    same = os.stat(tmp_path / "same.txt")
    known = {
        normalise(tmp_path / "same.txt"): (same.st_size, same.st_mtime),
        normalise(tmp_path / "edited.txt"): (3, 1.0),
        normalise(tmp_path / "gone.txt"): (1, 1.0),
    }
    changed, gone = reconcile(str(tmp_path), PathFilter(), known)
    assert sorted(changed) == [normalise(tmp_path / "edited.txt"), normalise(tmp_path / "new.txt")]
    assert gone == [normalise(tmp_path / "gone.txt")]


class _Sink:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.lock = threading.Lock()

    def __call__(self, changes: list[Change]) -> None:
        with self.lock:
            self.changes.extend(changes)

    def wait_for(self, predicate: object, timeout: float = 10.0) -> list[Change]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.changes):  # type: ignore[operator]
                    return list(self.changes)
            time.sleep(0.05)
        raise AssertionError(f"timed out; got {self.changes}")


@pytest.mark.parametrize("polling", [False, True])
def test_real_events_are_coalesced(tmp_path: Path, polling: bool) -> None:
    sink = _Sink()
    watcher = Watcher([str(tmp_path)], PathFilter(), sink, debounce_s=0.3,
                      force_polling=polling, poll_interval_s=0.2)  # fmt: skip
    watcher.start()
    try:
        target = tmp_path / "doc.txt"
        for i in range(5):  # a burst of writes -> one change
            target.write_text(f"version {i}")
        got = sink.wait_for(lambda c: any(x.path == normalise(target) for x in c))
        assert [c.kind for c in got if c.path == normalise(target)] == ["index"]
        time.sleep(0.5)
        sink.changes.clear()
        # editor-style atomic save: hidden temp file renamed over the target
        tmp = tmp_path / ".doc.txt.swp"
        tmp.write_text("saved atomically")
        os.replace(tmp, target)
        got = sink.wait_for(lambda c: any(x.path == normalise(target) for x in c))
        assert all(c.path != normalise(tmp) for c in got)
        time.sleep(0.5)
        sink.changes.clear()
        target.rename(tmp_path / "renamed.txt")
        got = sink.wait_for(lambda c: any(x.path == normalise(tmp_path / "renamed.txt") for x in c))
        kinds = {(c.kind, c.path, c.src) for c in got}
        assert ("move", normalise(tmp_path / "renamed.txt"), normalise(target)) in kinds or (
            polling and ("index", normalise(tmp_path / "renamed.txt"), None) in kinds
        )
        (tmp_path / "renamed.txt").unlink()
        sink.wait_for(lambda c: any(x.kind == "delete" for x in c))
        (tmp_path / ".hidden.txt").write_text("ignored")
        time.sleep(0.8)
        assert all(".hidden" not in c.path for c in sink.changes)
    finally:
        watcher.stop()


def test_inotify_failure_falls_back_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.watcher as mod

    class Broken(mod.PollingObserver):  # type: ignore[misc]
        def schedule(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(mod, "Observer", Broken)
    sink = _Sink()
    watcher = Watcher([str(tmp_path)], PathFilter(), sink, debounce_s=0.1, poll_interval_s=0.2)
    watcher.start()
    try:
        assert watcher.polling == [normalise(tmp_path)]
        (tmp_path / "x.txt").write_text("hi")
        sink.wait_for(lambda c: any(x.path.endswith("x.txt") for x in c))
    finally:
        watcher.stop()


def test_a_file_that_keeps_changing_is_delivered_every_max_wait(tmp_path: Path) -> None:
    sink = _Sink()
    watcher = Watcher([str(tmp_path)], PathFilter(), sink, debounce_s=0.3, max_wait_s=0.8)
    watcher.start()
    try:
        log = tmp_path / "growing.log"
        with open(log, "a") as fh:
            for i in range(50):  # 2.5 s of writes, never 0.3 s apart
                fh.write(f"line {i}\n")
                fh.flush()
                time.sleep(0.05)
            with sink.lock:
                during = [c for c in sink.changes if c.path == normalise(log)]
        assert len(during) >= 2, during
    finally:
        watcher.stop()


def test_links_out_of_the_folder_are_refused_by_scan_and_watcher(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("secret")
    (outside / "dir" / "deep.txt").write_text("secret too")
    (root / "inner").mkdir(parents=True)
    (root / "inner" / "own.txt").write_text("mine")
    (root / "out.txt").symlink_to(outside / "secret.txt")
    (root / "outdir").symlink_to(outside / "dir")
    (root / "in.txt").symlink_to(root / "inner" / "own.txt")
    follow = PathFilter(follow_symlinks=True)
    found = {Path(p).name for p, _ in scan(str(root), follow)}
    assert found == {"own.txt", "in.txt"}
    folder = normalise(root)
    assert not resolves_inside(f"{folder}/out.txt", folder, True)
    assert not resolves_inside(f"{folder}/outdir/deep.txt", folder, True)
    assert resolves_inside(f"{folder}/in.txt", folder, True)
    assert not resolves_inside(f"{folder}/in.txt", folder, False)
    assert resolves_inside(f"{folder}/inner/own.txt", folder, False)


def test_watcher_drops_links_out_and_forgets_a_file_turned_into_one(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    sink = _Sink()
    watcher = Watcher([str(root)], PathFilter(follow_symlinks=True), sink, debounce_s=0.1)
    watcher.start()
    try:
        (root / "link.txt").symlink_to(outside)
        (root / "plain.txt").write_text("fine")
        got = sink.wait_for(lambda c: any(x.path.endswith("plain.txt") for x in c))
        assert all(c.kind == "delete" for c in got if c.path.endswith("link.txt")), got
    finally:
        watcher.stop()


@pytest.mark.parametrize("polling", [False, True])
def test_chmod_brings_a_file_back(tmp_path: Path, polling: bool) -> None:
    """Network drives and exhausted inotify poll: a chmod there must be seen too."""
    target = tmp_path / "locked.txt"
    target.write_text("x")
    sink = _Sink()
    watcher = Watcher([str(tmp_path)], PathFilter(), sink, debounce_s=0.1,
                      force_polling=polling, poll_interval_s=0.2)  # fmt: skip
    watcher.start()
    try:
        time.sleep(0.3)
        target.chmod(0o600)
        sink.wait_for(lambda c: any(x.path == normalise(target) for x in c))
    finally:
        watcher.stop()


def test_permission_restored_lists_readable_files_skipped_as_denied(tmp_path: Path) -> None:
    """The store lists files skipped as "permission denied"; only readable ones come back."""
    from storage.store import Store

    readable = tmp_path / "docs" / "ok.txt"
    readable.parent.mkdir()
    readable.write_text("x")
    folder = normalise(tmp_path / "docs")
    with Store.open(tmp_path / "i.sqlite3") as store:
        store.add_folder(folder)
        for path, reason in ((readable, "permission denied"),
                             (tmp_path / "docs" / "gone.txt", "permission denied"),
                             (tmp_path / "docs" / "bin.txt", "binary file (NUL bytes)")):  # fmt: skip
            store.mark_skipped(normalise(path), reason, size=1, mtime=1.0, content_hash="")
        denied = store.file_stamps(folder, 3).denied
    assert sorted(denied) == sorted(
        normalise(p) for p in (readable, tmp_path / "docs" / "gone.txt")
    )
    assert permission_restored(denied) == [normalise(readable)]


class _IoOnCallbacks:
    """Records file-system calls made inside a watchdog callback, and those made elsewhere.

    ``_Handler.dispatch`` (every callback goes through it) marks its thread while it runs;
    ``os.scandir`` / ``os.stat`` / ``os.lstat`` (a walk, ``realpath``, ``islink``) record
    whether they were called inside one. Only the handler's own calls are marked, so the
    observer's emitter (which may stat to build events) is not counted.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from app import watcher as watcher_mod

        self.inside: list[str] = []
        self.walks_elsewhere = 0
        self.callbacks = 0
        self._local = threading.local()
        handler = watcher_mod._Handler
        dispatch = handler.dispatch

        def marked(this: object, event: object) -> None:
            self._local.active = True
            try:
                dispatch(this, event)  # type: ignore[arg-type]
            finally:
                self._local.active = False
                self.callbacks += 1

        monkeypatch.setattr(handler, "dispatch", marked)
        for name in ("scandir", "stat", "lstat"):
            monkeypatch.setattr(os, name, self._spy(name, getattr(os, name)))

    def _spy(self, name: str, real: object) -> object:
        def spy(*args: object, **kwargs: object) -> object:
            if getattr(self._local, "active", False):
                self.inside.append(name)
            elif name == "scandir":
                self.walks_elsewhere += 1
            return real(*args, **kwargs)  # type: ignore[operator]

        return spy


@pytest.mark.parametrize("polling", [False, True])
def test_callbacks_only_enqueue_a_folder_moved_in_is_walked_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, polling: bool
) -> None:
    watched, outside = tmp_path / "watched", tmp_path / "outside" / "album"
    watched.mkdir()
    for sub in range(5):  # 5 folders x 60 files, made outside the watched folder
        (outside / f"part{sub}").mkdir(parents=True)
        for i in range(60):
            (outside / f"part{sub}" / f"note{i}.txt").write_text(f"note {sub}.{i}")
    io = _IoOnCallbacks(monkeypatch)
    sink = _Sink()
    watcher = Watcher([str(watched)], PathFilter(), sink, debounce_s=0.2,
                      force_polling=polling, poll_interval_s=0.2)  # fmt: skip
    watcher.start()
    try:
        os.rename(outside, watched / "album")  # one event for 300 files
        expected = {normalise(watched / "album" / f"part{s}" / f"note{i}.txt")
                    for s in range(5) for i in range(60)}  # fmt: skip
        got = sink.wait_for(lambda c: expected <= {x.path for x in c if x.kind == "index"})
        assert {x.path for x in got if x.kind == "index"} == expected
    finally:
        watcher.stop()
    assert io.callbacks > 0 and io.inside == [], "a watchdog callback touched the disk"
    assert io.walks_elsewhere >= 6  # the album and its 5 folders, walked by the flusher
