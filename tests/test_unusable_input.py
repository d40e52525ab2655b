"""docs/interface.md section 1: every kind of unusable input exits 2 with one line naming the file and
the place, and stores nothing. Each case runs through the real command on both stores."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from resolver.batchfile.loader import load_batch
from resolver.errors import InputError

from .conftest import Server, cli_env, run_cli

GOOD: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "examples" / "spring-catalog.json").read_text()
)


def variant(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        target: Any = data  # a dict or a list, level by level
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


CASES: dict[str, tuple[Any, str]] = {
    # name: (file content: str for raw text, dict for JSON; expected fragment of the message)
    "bad-json": ('{"objects": [', "line 1 column 14: invalid JSON"),
    "truncated-json": (json.dumps(GOOD)[:-20], "invalid JSON"),
    "empty-file": ("", "file is empty"),
    "not-an-object": ("[1, 2]", "expected a JSON object at the top"),
    "wrong-type": (
        variant(objects__1__objectType=7),
        "objects[1] (objectId 'shirt'): objectType: input should be a valid string",
    ),
    "wrong-bool": (
        variant(links__0__separateDependentLinkCreate="yes"),
        "links[0] (linkId 'l1'): separateDependentLinkCreate",
    ),
    "bad-link-type": (variant(links__0__linkType="sometimes"), "must be 'dependent' or 'independent'"),
    "unknown-key": (variant(objects__0__colour="red"), "objects[0] (objectId 'acme'): colour: unknown key"),
    "unknown-top-key": (variant(extra=1), "extra: unknown key"),
    "missing-key": (
        variant(links__0__linkTag=KeyError),
        "links[0] (linkId 'l1'): linkTag: required key is missing",
    ),
    "missing-objects": (variant(objects=KeyError), "objects: required key is missing"),
    "duplicate-object": (
        variant(objects__2__objectId="shirt"),
        "duplicate objectId 'shirt' (first at objects[1])",
    ),
    "duplicate-link": (dict(variant(), links=[*GOOD["links"], GOOD["links"][0]]), "duplicate linkId 'l1'"),
    "duplicate-reference": (
        dict(variant(), references=GOOD["references"] * 2),
        "duplicate referenceId 'sku:SH-1'",
    ),
    "empty-id": (variant(objects__0__objectId=""), "objectId: must not be empty"),
}


@pytest.mark.parametrize("store_name", ["memory", "neo4j"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_file_exits_2_and_stores_nothing(
    case: str, store_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server: Server | None = request.getfixturevalue("neo4j_server") if store_name == "neo4j" else None
    content, fragment = CASES[case]
    path = tmp_path / f"{case}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    batch_id = f"u-{case}-{tmp_path.name[-8:]}"
    result = run_cli("load", str(path), "--batch-id", batch_id, env=cli_env(store_name, server))
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert lines[0].startswith(f"error: {path}: ")
    assert fragment.lower() in lines[0].lower()
    assert result.out == ""
    if server is not None:
        assert run_cli("status", batch_id, env=server.env()).code == 2


def test_unreadable_path_exits_2(tmp_path: Path) -> None:
    result = run_cli("load", str(tmp_path / "missing.json"), env={"RESOLVER_STORE": "memory"})
    assert result.code == 2
    assert (
        result.err.strip()
        == f"error: {tmp_path / 'missing.json'}: cannot read file: No such file or directory"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"objects": [{"objectId": "caf\xe9", "objectType": "t"}]}')
    with pytest.raises(InputError, match="not valid UTF-8"):
        load_batch(path)


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(
        '{"objects": [{"objectId": "a", "objectType": "t", "fields": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
    )
    with pytest.raises(InputError, match="nested too deeply"):
        load_batch(path)


def _write_csv(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


CSV_GOOD = {
    "objects.csv": 'objectId,objectType,fields,identifierIds\nacme,brand,,"{""brandId"": ""42""}"\n'
    'shirt,product,"{""title"": ""Shirt""}",\nshirt-red,variant,"{""color"": ""red""}",\n',
    "references.csv": "referenceId,objectId\nsku:SH-1,shirt\n",
    "links.csv": "linkId,objectId,referenceId,linkTag,linkType,separateDependentLinkCreate\n"
    "l1,shirt-red,sku:SH-1,variantOf,Dependent,false\n",
    "link_tags.csv": "linkTag,childType,parentType\nvariantOf,variant,product\ninCategory,product,category\n",
}


def test_csv_folder_maps_to_the_same_model(tmp_path: Path) -> None:
    _write_csv(tmp_path / "b", CSV_GOOD)
    from_csv = load_batch(tmp_path / "b", batch_id="spring-catalog")
    from_json = load_batch(Path(__file__).parent.parent / "examples" / "spring-catalog.json")
    assert from_csv == from_json


def test_csv_zip_maps_to_the_same_model(tmp_path: Path) -> None:
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in CSV_GOOD.items():
            zf.writestr(f"b/{name}", text)
    assert load_batch(archive, batch_id="x").links[0].linkType == "dependent"


@pytest.mark.parametrize(
    ("file", "text", "fragment"),
    [
        (
            "links.csv",
            "linkId,objectId,referenceId,linkTag,linkType\nl1,a,b,t,sideways\n",
            "links.csv line 2: linkType",
        ),
        (
            "objects.csv",
            "objectId,objectType,fields\na,t,{not json}\n",
            "objects.csv: line 2: column fields: not valid JSON",
        ),
        ("objects.csv", "objectId,colour\na,red\n", "line 1: missing column(s): objectType"),
        ("objects.csv", "objectId,objectType\na,t,extra\n", "line 2: wrong number of columns"),
        ("objects.csv", "", "file is empty"),
        (
            "links.csv",
            "linkId,objectId,referenceId,linkTag,linkType,separateDependentLinkCreate\nl1,a,b,t,dependent,maybe\n",
            "separateDependentLinkCreate: expected true or false",
        ),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, file: str, text: str, fragment: str) -> None:
    files = dict(CSV_GOOD)
    files[file] = text
    _write_csv(tmp_path / "b", files)
    with pytest.raises(InputError) as info:
        load_batch(tmp_path / "b")
    assert fragment in str(info.value)
