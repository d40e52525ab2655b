"""The wheel ships the Cypher files, and the public API is what __all__ says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import resolver
from resolver.store.queries import all_queries

from .conftest import EXAMPLES, ROOT


def test_non_editable_install_finds_every_query(tmp_path: Path) -> None:
    target = tmp_path / "site"
    # build from a clean copy: an in-tree build/ folder would keep files the tree has dropped
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("resolver", "cypher"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shipped = sorted(p.stem for p in (target / "resolver" / "store" / "cypher").glob("*.cypher"))
    assert shipped == sorted(all_queries())
    # run from outside the repo, with the installed copy first on the path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target), "RESOLVER_STORE": "memory", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resolver.store.queries as q, sys; print(q.__file__); "
            "from resolver.cli import main; sys.argv = ['resolver', 'load', sys.argv[1]]; main()",
            str(EXAMPLES / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    first, batch_id = proc.stdout.splitlines()[:2]
    assert first.startswith(str(target)) and batch_id == "catalog"


def test_public_api_is_exported() -> None:
    for name in resolver.__all__:
        assert hasattr(resolver, name), name
    assert {"resolve", "load_batch", "MemoryStore", "ResolverError"} <= set(resolver.__all__)
    for name, value in vars(resolver).items():
        if not name.startswith("_") and isinstance(value, type) and value.__module__.startswith("resolver."):
            assert name in resolver.__all__, f"{name} is public but not in __all__"


def test_every_query_declares_its_parameters() -> None:
    queries = all_queries()
    assert "claim" in queries and "batchId" in queries["claim"].params
