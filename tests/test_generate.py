"""``resolver.generate``: deterministic, valid batches of every shape, and the ``generate`` command."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resolver.adapters.simulate import SimulateAdapter
from resolver.batchfile.loader import batch_from_dict, load_batch
from resolver.cli.generate import generate as generate_command
from resolver.engine import resolve
from resolver.generate import SHAPES, generate, stream_batch, write_batch
from resolver.store.memory import MemoryStore

N_OBJECTS, N_LINKS = 600, 1200


def _kinds(batch: dict[str, Any]) -> Counter[str]:
    def kind(link: dict[str, Any]) -> str:
        if link["linkType"] == "independent":
            return "independent"
        return "separate" if link["separateDependentLinkCreate"] else "dependent"

    return Counter(kind(link) for link in batch["links"])


def test_same_seed_same_batch() -> None:
    a = generate(500, 1000, seed=7, batch_id="g")
    assert a == generate(500, 1000, seed=7, batch_id="g")
    assert a != generate(500, 1000, seed=8, batch_id="g")
    assert "batchId" not in generate(10, 10, seed=1)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_loads_and_validates(shape: str) -> None:
    data = generate(N_OBJECTS, N_LINKS, seed=3, shape=shape, batch_id=f"gen-{shape}")
    assert len(data["objects"]) == N_OBJECTS
    assert len(data["links"]) == N_LINKS
    kinds = _kinds(data)
    assert set(kinds) == {"dependent", "separate", "independent"}
    assert kinds["dependent"] + kinds["separate"] == round(N_LINKS * 0.6)
    existing = sum("identifierIds" in o for o in data["objects"])
    assert 0 < existing < N_OBJECTS * 0.2
    aliased = {r["referenceId"] for r in data["references"]}
    assert any(link["referenceId"] in aliased for link in data["links"])

    batch = batch_from_dict(data)
    store = MemoryStore()
    store.load(batch)
    assert store.validate(f"gen-{shape}") == []
    status = store.status(f"gen-{shape}")
    assert sum(status.objects.values()) == N_OBJECTS
    assert sum(status.links.values()) == N_LINKS


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_resolves(shape: str) -> None:
    store = MemoryStore()
    store.load(batch_from_dict(generate(200, 400, seed=5, shape=shape, batch_id="r")))
    assert store.validate("r") == []
    assert resolve(store, "r", SimulateAdapter()).status == "complete"


def test_existing_objects_are_never_plain_dependent_children() -> None:
    data = generate(300, 900, seed=11, shape="fan-out", existing=0.5)
    existing = {o["objectId"] for o in data["objects"] if "identifierIds" in o}
    for link in data["links"]:
        if link["linkType"] == "dependent" and link["objectId"] in existing:
            assert link["separateDependentLinkCreate"] is True


def test_link_tags_are_exactly_those_used() -> None:
    data = generate(300, 600, seed=2, shape="random")
    assert set(data["linkTags"]) == {link["linkTag"] for link in data["links"]}
    types = {o["objectId"]: o["objectType"] for o in data["objects"]}
    alias = {r["referenceId"]: r["objectId"] for r in data["references"]}
    for link in data["links"]:
        tag = data["linkTags"][link["linkTag"]]
        parent = alias.get(link["referenceId"], link["referenceId"])
        assert (types[link["objectId"]], types[parent]) == (tag["childType"], tag["parentType"])


def test_layered_dependent_links_go_to_earlier_layers() -> None:
    data = generate(1000, 2000, seed=4, shape="layered")
    layer = {o["objectId"]: int(o["objectType"][1:]) for o in data["objects"]}
    assert 10 <= len(set(layer.values())) <= 20
    alias = {r["referenceId"]: r["objectId"] for r in data["references"]}
    for link in data["links"]:
        if link["linkType"] == "dependent":
            assert layer[link["objectId"]] > layer[alias.get(link["referenceId"], link["referenceId"])]


def test_chain_is_long() -> None:
    data = generate(400, 800, seed=1, shape="chain", existing=0.0)
    alias = {r["referenceId"]: r["objectId"] for r in data["references"]}
    parents = {
        (link["objectId"], alias.get(link["referenceId"], link["referenceId"]))
        for link in data["links"]
        if link["linkType"] == "dependent"
    }
    assert all((f"o{k}", f"o{k - 1}") in parents for k in range(1, 200))


def test_edge_sizes() -> None:
    assert generate(0, 0, seed=1)["objects"] == []
    assert len(generate(2, 5, seed=1)["links"]) == 5
    with pytest.raises(ValueError):
        generate(1, 1, seed=1)
    with pytest.raises(ValueError):
        generate(10, 10, seed=1, shape="spiral")


def test_write_and_stream_give_the_same_batch(tmp_path: Path) -> None:
    data = generate(700, 1400, seed=9, shape="fan-in", batch_id="w")
    write_batch(data, tmp_path / "a.json")
    stream_batch(tmp_path / "b.json", 700, 1400, seed=9, shape="fan-in", batch_id="w")
    text = (tmp_path / "a.json").read_text()
    assert "\n" not in text.rstrip("\n") and ", " not in text  # compact
    assert json.loads(text) == data == json.loads((tmp_path / "b.json").read_text())
    assert load_batch(tmp_path / "b.json").batchId == "w"


def test_generate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "g.json"
    result = runner.invoke(
        generate_command,
        [
            "--objects",
            "50",
            "--links",
            "80",
            "--seed",
            "3",
            "--shape",
            "chain",
            "--existing",
            "0.2",
            "--batch-id",
            "cli-gen",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == generate(
        50, 80, seed=3, shape="chain", existing=0.2, batch_id="cli-gen"
    )
    result = runner.invoke(generate_command, ["--objects", "20", "--seed", "1"])
    assert result.exit_code == 0
    assert len(json.loads(result.output)["links"]) == 40  # links default to twice the objects
    assert runner.invoke(generate_command, ["--shape", "spiral"]).exit_code == 2
    assert runner.invoke(generate_command, ["--objects", "1", "--links", "1"]).exit_code == 2
