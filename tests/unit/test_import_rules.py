"""The layout's rules, checked on the source: what may import what.

`shared` is the contract both sides build on, so it imports neither; an agent install never
needs the collector; the SLA engine is pure arithmetic, so it can be tested and trusted without
a broker or a database. Every module is parsed with `ast` (nothing is imported), so a lazy
import inside a function counts as much as one at the top.

The allow-lists name what breaks a rule today and can only be fixed by moving files; each
entry must still be needed (a stale one fails), so the lists shrink as the layout changes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
PACKAGES = {"shared": "pantau.shared", "agent": "pantau.agent", "collector": "pantau.collector"}
IO_LIBRARIES = {
    "apprise",
    "asyncio",
    "ftplib",
    "http",
    "influxdb_client",
    "librouteros",
    "paho",
    "prometheus_client",
    "psutil",
    "requests",
    "selectors",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "subprocess",
    "urllib",
    "urllib3",
}
# Test and demo equipment (simulator, local stack, demo): only lab code may import across agent
# and collector, and no runtime module uses it.
LAB = ("pantau.collector.lab",)
ALLOWED_LAB_USERS: set[tuple[str, str]] = set()
# Package cycles today, as the edge from a subpackage back to its parent that closes each:
# moves with the layout change.
ALLOWED_CYCLE_EDGES = {
    ("pantau.collector.noc", "pantau.collector"),  # config, influx, the collector's /metrics
}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.target}"


@cache
def modules() -> dict[str, Path]:
    """Every module of the three packages by its dotted name (a package by its __init__)."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    known = modules()
    found: list[Import] = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [Import(name, alias.name, where) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(name, is_package, node.level, node.module)
                for alias in node.names:  # `from pantau.collector.lab import services` is a module
                    child = f"{base}.{alias.name}"
                    found.append(Import(name, child if child in known else base, where))
    return tuple(found)


def _absolute(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = importer.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, *([module] if module else [])])


def inside(name: str, packages: str | Iterable[str]) -> bool:
    if isinstance(packages, str):
        packages = (packages,)
    return any(name == p or name.startswith(p + ".") for p in packages)


def package_of(module: str) -> str:
    """The package a module lives in (a package's __init__ lives in the package itself)."""
    path = modules().get(module)
    if path is None:  # a name imported from a module, not a module
        return package_of(module.rsplit(".", 1)[0]) if "." in module else module
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def test_the_parser_sees_the_imports() -> None:
    """Guards the other tests against passing on nothing."""
    imports = {(i.importer, i.target) for i in all_imports()}
    assert len(modules()) > 100
    assert ("pantau.collector.service", "paho.mqtt.client") in imports
    assert ("pantau.collector.lab.secure_broker", "pantau.collector.lab.services") in imports
    assert ("pantau.collector.lab.demo.replay", "pantau.agent.spool") in imports
    assert ("pantau.collector.sla.groups", "numpy") in imports


def test_shared_imports_neither_agent_nor_collector() -> None:
    wrong = [
        str(i)
        for i in all_imports()
        if inside(i.importer, "pantau.shared")
        and inside(i.target, ("pantau.agent", "pantau.collector"))
    ]
    assert wrong == []


def test_agent_imports_nothing_from_collector() -> None:
    wrong = [
        str(i)
        for i in all_imports()
        if inside(i.importer, "pantau.agent") and inside(i.target, "pantau.collector")
    ]
    assert wrong == []


def test_sla_engine_imports_no_io_library() -> None:
    """Pure functions: only the standard library's arithmetic, numpy, itself and `shared`."""
    wrong = []
    for i in all_imports():
        if not inside(i.importer, "pantau.collector.sla"):
            continue
        top = i.target.split(".")[0]
        if top in IO_LIBRARIES or (
            top == "pantau" and not inside(i.target, ("pantau.collector.sla", "pantau.shared"))
        ):
            wrong.append(str(i))
    assert wrong == []


def test_only_lab_code_imports_across_or_uses_lab_code() -> None:
    across = [
        str(i)
        for i in all_imports()
        if inside(i.importer, "pantau.collector")
        and inside(i.target, "pantau.agent")
        and not inside(i.importer, LAB)
    ]
    assert across == []
    users = {
        (i.importer, i.target)
        for i in all_imports()
        if inside(i.target, LAB) and not inside(i.importer, LAB)
    }
    assert users - ALLOWED_LAB_USERS == set()
    assert ALLOWED_LAB_USERS - users == set(), "no longer needed: remove from ALLOWED_LAB_USERS"


def test_packages_import_each_other_in_one_direction() -> None:
    edges: dict[tuple[str, str], str] = {}
    for i in all_imports():
        if not i.target.startswith("pantau."):
            continue
        pair = (package_of(i.importer), package_of(i.target))
        if pair[0] != pair[1]:
            edges.setdefault(pair, str(i))
    used = ALLOWED_CYCLE_EDGES & edges.keys()
    assert used == ALLOWED_CYCLE_EDGES, "no longer needed: remove from ALLOWED_CYCLE_EDGES"
    graph: dict[str, set[str]] = {}
    for a, b in edges.keys() - ALLOWED_CYCLE_EDGES:
        graph.setdefault(a, set()).add(b)
    closing = sorted(
        f"{edges[(a, b)]} (and {b} leads back to {a})"
        for a, b in edges.keys() - ALLOWED_CYCLE_EDGES
        if reaches(graph, b, a)
    )
    assert closing == []


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False
