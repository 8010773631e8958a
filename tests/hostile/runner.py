"""Run the real ``quarry`` CLI in a subprocess under a memory limit, and measure it.

Every run gets its own session (process group), an address-space limit (``MEMORY_LIMIT``,
inherited by its extraction workers) and a wall-clock bound; past the bound the whole
group is killed and the run reports ``timed_out``. Peak RSS is the largest high-water mark
(``VmHWM``) of any process of the group, sampled every 0.1 s: ``wait4``'s ``ru_maxrss``
cannot be used on Linux, as a child's counts its parent's (the test process's) RSS at fork.

``QUARRY_HOSTILE_CODE`` points the runs at another checkout (e.g. the main branch) to
show which defects it still has; by default they run this checkout's code. With
``QUARRY_HOSTILE_LOG`` set, every run appends its measurements to that file (JSON lines;
``benchmarks/hostile_report.py`` builds the before/after table from them).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = Path(os.environ.get("QUARRY_HOSTILE_CODE") or ROOT)
MEMORY_LIMIT = 3 * 1024**3
PEAK_RSS_BOUND_MB = 1024
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24


@dataclass
class Run:
    """What one quarry process did."""

    rc: int | None
    seconds: float
    peak_mb: float
    out: str
    err: str
    timed_out: bool
    leftover: bool = False  # a process of the run (a worker) outlived it by a second

    def describe(self) -> str:
        """For assertion messages: how it ended and the tail of its stderr."""
        return f"rc={self.rc} {self.seconds:.1f}s {self.peak_mb:.0f}MB\n{self.err[-3000:]}"


def _limits(memory_limit: int, unprivileged: bool) -> Callable[[], None]:
    """preexec_fn: cap the address space; as root, also drop the right to read anything."""

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        if unprivileged and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
                libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)

    return apply


class Process:
    """A started quarry process; ``finish`` waits for it within a bound."""

    def __init__(self, popen: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.popen = popen
        self._out, self._err = out, err
        self.started = time.monotonic()
        self.sampled_peak_mb = 0.0

    @property
    def stderr(self) -> str:
        return self._err.read_bytes().decode("utf-8", "replace")

    def wait_for_stderr(self, text: str, timeout: float) -> None:
        """Block until ``text`` shows on stderr (e.g. "watching"), or fail."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise AssertionError(f"never printed {text!r}:\n{self.stderr[-3000:]}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the quarry process only (as ``kill`` would)."""
        self.popen.send_signal(signum)

    def _group(self) -> list[str]:
        """/proc/<pid>/ of every running process of this run (workers included). Zombies
        are not running: an orphan that exited waits for init to reap it, which a
        container's init may never do."""
        members = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            with _suppress_lookup():
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.popen.pid and fields[0] != "Z":
                    members.append(f"/proc/{entry}/")
        return members

    def _group_alive(self) -> bool:
        """Is any process of this run still running?"""
        if Path("/proc").is_dir():
            return bool(self._group())
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _sample_peak(self) -> None:
        """Largest peak RSS (VmHWM) of any process of the run so far."""
        for proc in self._group() if Path("/proc").is_dir() else []:
            with _suppress_lookup():
                for line in Path(proc, "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.sampled_peak_mb = max(
                            self.sampled_peak_mb, int(line.split()[1]) / 1024
                        )

    def _lingers(self, grace: float) -> bool:
        """After the quarry process ended: does anything of its group outlive ``grace``?"""
        deadline = time.monotonic() + grace
        while self._group_alive():
            if time.monotonic() > deadline:
                return True
            time.sleep(0.05)
        return False

    def finish(self, timeout: float) -> Run:
        """Wait up to ``timeout`` s; past it, kill the whole group and say so."""
        deadline = time.monotonic() + timeout
        timed_out = False
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > next_sample:
                self._sample_peak()
                next_sample = time.monotonic() + 0.1
            if time.monotonic() > deadline and not timed_out:
                timed_out = True
                os.killpg(self.popen.pid, signal.SIGKILL)
            time.sleep(0.02)
        seconds = time.monotonic() - self.started
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        scale = 1 if sys.platform == "darwin" else 1024
        leftover = self._lingers(grace=1.0)
        with _suppress_lookup():
            os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers must not outlive a test
        run = Run(
            None if timed_out else self.popen.returncode,
            seconds,
            self.sampled_peak_mb if Path("/proc").is_dir() else usage.ru_maxrss * scale / 1024**2,
            self._out.read_bytes().decode("utf-8", "surrogateescape"),
            self.stderr,
            timed_out,
            leftover,
        )
        _log(self.popen.args, run)
        return run


def _log(argv: object, run: Run) -> None:
    """Append the run's measurements to ``QUARRY_HOSTILE_LOG``, when set."""
    target = os.environ.get("QUARRY_HOSTILE_LOG")
    if not target:
        return
    command = argv[3] if isinstance(argv, list) and len(argv) > 3 else "?"
    entry = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "command": command,
        "seconds": round(run.seconds, 2),
        "peak_mb": round(run.peak_mb),
        "rc": run.rc,
        "timed_out": run.timed_out,
    }
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


def _suppress_lookup() -> suppress:
    """Ignore a process (or a /proc entry) that vanished meanwhile."""
    return suppress(ProcessLookupError, PermissionError, FileNotFoundError, IndexError, ValueError)


@dataclass
class Quarry:
    """The CLI as a user runs it: its own QUARRY_HOME, the starter model, a UTF-8 locale."""

    home: Path
    model: Path
    logs: Path
    unprivileged: bool = False
    memory_limit: int = MEMORY_LIMIT

    @property
    def db(self) -> Path:
        return self.home / "index.sqlite3"

    def configure(self, **settings: object) -> None:
        """Write settings.json: the starter model (so no cached Qwen3 is picked) and more."""
        path = self.home / "config" / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"embed_model": str(self.model), **settings}))

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "QUARRY_HOME": str(self.home),
            "PYTHONPATH": str(CODE),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, *args: str) -> Process:
        """Start ``quarry ARGS --db DB`` in its own session."""
        if not (self.home / "config" / "settings.json").exists():
            self.configure()
        self.logs.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        out, err = self.logs / f"{stamp}.out", self.logs / f"{stamp}.err"
        command = [sys.executable, "-m", "app", *args, "--db", str(self.db)]
        with open(out, "wb") as fout, open(err, "wb") as ferr:
            popen = subprocess.Popen(
                command,
                cwd=CODE,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=fout,
                stderr=ferr,
                start_new_session=True,
                preexec_fn=_limits(self.memory_limit, self.unprivileged),
            )
        return Process(popen, out, err)

    def index(self, *paths: Path, timeout: float, workers: int = 2) -> Run:
        """``quarry index PATHS --json`` to the end (or the bound)."""
        args = ["index", *map(str, paths), "--json", "--workers", str(workers)]
        return self.start(*args).finish(timeout)

    def watch(self, *paths: Path, workers: int = 2) -> Process:
        """``quarry watch PATHS``, returned once it says it is watching."""
        process = self.start("watch", *map(str, paths), "--json", "--workers", str(workers))
        process.wait_for_stderr("watching", timeout=30)
        return process

    def search(self, query: str, timeout: float) -> Run:
        """``quarry search QUERY --json --no-rerank``."""
        return self.start("search", query, "--json", "--no-rerank").finish(timeout)
