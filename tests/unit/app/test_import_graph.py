"""The writer's modules import each other one way only: no cycle, not even inside a function.

A cycle hidden in a function-level import (``app.rebuild`` once imported ``app.pipeline``
inside ``rebuild_fingerprint`` while ``app.pipeline`` imports ``app.rebuild``) works until
someone moves the import to the top; the graph is read from the source, so it sees both.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WRITER_SIDE = {
    "app.pipeline", "app.rebuild", "app.indexer", "app.embedding", "app.fingerprint",
    "app.writer", "app.watcher",
}  # fmt: skip


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every ``app`` module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            found |= candidates & modules
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in (ROOT / "app").rglob("*.py")}
    modules = set(files)
    return {name: imports_of(path, modules) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_cycle_finder_sees_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert cycles(graph) == [{"a", "b"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_through_the_writer_modules() -> None:
    graph = import_graph()
    assert "app.pipeline" in graph["app.ui.adapters"]  # a function-level import counts
    assert "app.rebuild" in graph["app.pipeline"]
    around_writer = [c for c in cycles(graph) if c & WRITER_SIDE]
    assert around_writer == []


def test_rebuild_imports_without_the_pipeline_in_a_fresh_process() -> None:
    code = (
        "import sys, app.rebuild, app.fingerprint, app.writer; "
        "assert 'app.pipeline' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
