"""The house: no import circles among resolver's modules, no module importing (or reaching into)
another module's private names, and the README's architecture table naming exactly the modules
there are. Read from the source with ``ast``: nothing is imported or run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

from .conftest import ROOT

PACKAGE = ROOT / "resolver"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base.pop()  # a module's package
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _scan() -> tuple[nx.DiGraph, list[str]]:
    """Every import of every module (in functions and TYPE_CHECKING blocks too), and every use
    of a private name of another module."""
    graph = nx.DiGraph()
    problems: list[str] = []
    for module, path in MODULES.items():
        graph.add_node(module)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}  # local name -> resolver module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, node, path)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in MODULES:
                        graph.add_edge(module, sub)
                        aliases[alias.asname or alias.name] = sub
                    elif target in MODULES:
                        graph.add_edge(module, target)
                    if _private(alias.name):
                        problems.append(f"{module} imports {target}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in MODULES:
                        graph.add_edge(module, alias.name)
                        if alias.asname:
                            aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                problems.append(f"{module} uses {aliases[node.value.id]}.{node.attr}")
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph, problems


def test_no_import_circles() -> None:
    graph, _ = _scan()
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert circles == []


def test_no_module_uses_a_private_name_of_another() -> None:
    _, problems = _scan()
    assert problems == []


def test_readme_architecture_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(resolver/[\w/]+\.py)`", section))
    files = {str(p.relative_to(ROOT)) for p in MODULES.values()}
    assert files - named == set(), "modules the README's architecture table leaves out"
    assert named - files == set(), "README names modules that do not exist"
