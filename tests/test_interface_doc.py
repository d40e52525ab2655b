"""docs/interface.md stays true: every command and option of the CLI is documented in its own
section, and every JSON example parses and validates against the models."""

from __future__ import annotations

import json
import re
from typing import Any, Literal, get_type_hints

import click
import pytest
from pydantic import TypeAdapter

from resolver.batchfile.loader import batch_from_dict
from resolver.cli import cli
from resolver.models import BatchComplete, BatchStatus, CreateLink, CreateObject, ValidationIssue
from resolver.reporting import parse_item

from .conftest import ROOT

DOC = (ROOT / "docs" / "interface.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out += _commands(command, path)
        else:
            out.append((path, command))
    return out


def _section(heading: str) -> str:
    """The text under '### `heading`' up to the next heading of any level."""
    match = re.search(rf"^### `{re.escape(heading)}`\n(.*?)(?=^#)", DOC + "\n#", re.M | re.S)
    assert match, f"docs/interface.md has no section '### `{heading}`'"
    return match.group(1)


def _top_command(path: str) -> str:
    """Subcommands of a group (neo4j start) are documented in the group's section."""
    parts = path.split()
    return " ".join(parts[:2])


@pytest.mark.parametrize("path,command", _commands(cli, "resolver"), ids=lambda v: str(v))
def test_every_command_and_option_is_documented(path: str, command: click.Command) -> None:
    text = _section(_top_command(path))
    assert path in DOC, f"{path} is not named in docs/interface.md"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            longest = max(param.opts, key=len)
            assert longest in text, f"{path}: option {longest} is not in its section"


def _examples(kind: str) -> list[Any]:
    blocks = re.findall(rf"^```json {kind}\n(.*?)^```", DOC, re.M | re.S)
    assert blocks, f"no ```json {kind} example in docs/interface.md"
    return [json.loads(b) for b in blocks]


def test_batch_examples_validate() -> None:
    for data in _examples("batch"):
        batch = batch_from_dict(data, "docs/interface.md")
        assert batch.objects


def test_message_examples_validate() -> None:
    kinds = {"create-object": CreateObject, "create-link": CreateLink, "batch-complete": BatchComplete}
    seen = set()
    for data in _examples("message"):
        model = kinds[data["kind"]]
        TypeAdapter(model).validate_python(data, strict=True)
        assert set(data) == set(get_type_hints(model)), data["kind"]
        seen.add(data["kind"])
    assert seen == set(kinds)


def test_error_examples_validate() -> None:
    for data in _examples("error"):
        TypeAdapter(ValidationIssue).validate_python(data, strict=True)
        assert set(data) <= set(get_type_hints(ValidationIssue))


def test_status_examples_have_the_shape_status_prints() -> None:
    for data in _examples("status"):
        counts = {k: data[k]["byStatus"] for k in ("objects", "links")}
        rebuilt = BatchStatus(
            data["batchId"],
            data["status"],
            counts["objects"],
            counts["links"],
            data["errors"],
            objectList=data.get("objectList"),
            linkList=data.get("linkList"),
        ).to_json()
        assert rebuilt == data


def test_report_examples_parse() -> None:
    kinds = set()
    for i, data in enumerate(_examples("report")):
        kind: Literal["completion", "failure"] = "failure" if "reason" in data else "completion"
        report = parse_item(data, kind, f"example {i}")
        kinds.add((kind, report.kind))
    assert kinds == {("completion", "object"), ("completion", "link"), ("failure", "object")}
