"""A real indexed folder, and the real ``quarry`` command run in subprocesses against it.

``Indexed`` is one user's world: a QUARRY_HOME whose settings name the starter model, a
folder of documents indexed by ``quarry index``, and beside it things that must stay out of
reach (a secret file outside the folder, a link inside the folder pointing at it).
``Served`` is a running ``quarry serve --port 0``; its URL is read from its stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.corpus import pdf_bytes

ROOT = Path(__file__).resolve().parents[2]
QUERIES = [
    ["plumber invoice"],
    ["what does the keeper do during storms"],
    ["quarterly report revenue", "--type", "pdf"],
    ["sink", "--mode", "keyword"],
]


def quarry_command() -> list[str]:
    """The installed ``quarry`` script beside this Python (``python -m app`` without one)."""
    script = Path(sys.executable).with_name("quarry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


@dataclass
class Indexed:
    """An index built by the real CLI, and what lies around it."""

    home: Path
    folder: Path
    secret: Path
    built: str = ""  # the database's checksum right after indexing

    @property
    def db(self) -> Path:
        return self.home / "data" / "index.sqlite3"

    def env(self) -> dict[str, str]:
        """The environment a user's shell gives ``quarry`` (and an MCP client gives its server)."""
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        return {
            **{k: os.environ[k] for k in keep if k in os.environ},
            "QUARRY_HOME": str(self.home),
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
        }

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``quarry ARGS`` to completion."""
        return subprocess.run(
            [*quarry_command(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def search_json(self, *args: str) -> list[dict[str, Any]]:
        """``quarry search ARGS --json``, parsed."""
        done = self.run("search", *args, "--json")
        assert done.returncode == 0, done.stderr
        result: list[dict[str, Any]] = json.loads(done.stdout)
        return result

    def checksum(self) -> str:
        """sha256 over the database file and its WAL (when there is one)."""
        digest = hashlib.sha256()
        for path in (self.db, self.db.with_name(self.db.name + "-wal")):
            if path.exists():
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def token(self) -> str:
        return (self.home / "config" / "api-token").read_text().strip()


def build_indexed(base: Path, model: Path) -> Indexed:
    """Write the documents and index them with ``quarry index``."""
    home, folder = base / "home", base / "docs"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"embed_model": str(model)}))
    folder.mkdir()
    (folder / "lighthouse.md").write_text(
        "# Lighthouse\n\nThe lighthouse keeper logs every passing ship in a leather book.\n\n"
        "## Storms\n\n" + "During storms the lamp burns all night and the keeper stays awake. " * 40
    )
    (folder / "invoice.txt").write_text(
        "Invoice from the plumber: fixing the kitchen sink, 120 euros, paid in March.\n"
    )
    (folder / "report.pdf").write_bytes(
        pdf_bytes([["Quarterly report", "Revenue grew by a tenth."], ["Costs fell slightly."]])
    )
    secret = base / "secret.txt"
    secret.write_text("The safe combination is 4-8-15-16-23-42.\n")
    (folder / "link-to-secret.txt").symlink_to(secret)
    indexed = Indexed(home, folder, secret)
    done = indexed.run("index", str(folder), "--json", "--workers", "1", timeout=300)
    assert done.returncode == 0, done.stderr
    indexed.built = indexed.checksum()
    return indexed


@dataclass
class Served:
    """A running ``quarry serve``."""

    process: subprocess.Popen[bytes]
    url: str
    stderr: Path


@contextmanager
def serve(indexed: Indexed, *args: str, log: Path) -> Iterator[Served]:
    """Start ``quarry serve --port 0 ARGS``, wait for its address, stop it afterwards."""
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [*quarry_command(), "serve", "--port", "0", *args],
            env=indexed.env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield Served(process, _address(process, log), log)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _address(process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> str:
    """The URL ``quarry serve`` prints once it listens with its models loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+) ", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"quarry serve exited {process.returncode}: {log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"quarry serve did not start: {log.read_text()}")
