"""The streaming reader against the whole-file reading it replaced: the same outcome whatever
the size of the window (so no value cut at a chunk's end reads differently), syntax errors
worded as ``json.loads`` words them, sections in any order, duplicates found late in a big
file, and the rows of a file's plan equal to those of the same batch in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.batchfile import plan as plan_module
from resolver.batchfile import text_reader
from resolver.batchfile.loader import batch_from_dict, load_batch, open_plan
from resolver.batchfile.plan import LoadPlan, plan_load
from resolver.batchfile.problems import (
    BadInteger,
    BadNumber,
    DuplicateKey,
    check_int,
    finite,
    no_constant,
    strict_pairs,
)
from resolver.errors import InputError
from resolver.generate import generate

from .test_fuzz import EXAMPLE_DATA, JSON_VALUES

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
JUNK = [
    "",
    ",",
    "]",
    "}",
    "1e",
    "-",
    ".5",
    '"',
    "\\",
    " 1",
    "{",
    "[",
    "nul",
    "1.5e-",
    "\u2028",
    "\\ud800",
    "1,",
]


@st.composite
def documents(draw: st.DrawFn) -> str:
    """An example batch with random field values, laid out compactly or indented, and now and
    then a few characters changed."""
    data = json.loads(json.dumps(draw(st.sampled_from(EXAMPLE_DATA))))
    for o in data["objects"]:
        if draw(st.booleans()):
            o["fields"] = draw(st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=3))
    text = json.dumps(data, indent=draw(st.sampled_from([None, 0, 2])), ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(JUNK)) + text[at + draw(st.integers(0, 3)) :]
    return text


def outcome(path: Path) -> tuple[str, str]:
    try:
        return "ok", load_batch(path, batch_id="b").model_dump_json()
    except InputError as exc:
        return "error", str(exc)


@pytest.fixture
def chunk(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_chunk(size: int) -> None:
        monkeypatch.setattr(text_reader, "CHUNK", size)

    return set_chunk


@SETTINGS
@given(text=documents(), size=st.integers(1, 40))
def test_window_size_changes_nothing(text: str, size: int, tmp_path: Path, chunk: Any) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    chunk(1 << 20)
    whole = outcome(path)
    chunk(size)
    assert outcome(path) == whole


_STRICT = json.JSONDecoder(
    object_pairs_hook=strict_pairs, parse_constant=no_constant, parse_float=finite, parse_int=check_int
)


@SETTINGS
@given(text=documents())
def test_syntax_errors_are_worded_as_json_loads_words_them(text: str, tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        _STRICT.decode(text.encode("utf-8", "surrogatepass").decode("utf-8"))
    except UnicodeDecodeError:
        return
    except json.JSONDecodeError as exc:
        if not text.strip():
            return
        with pytest.raises(InputError) as info:
            load_batch(path)
        assert str(info.value) == f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
    except (DuplicateKey, BadInteger, BadNumber, RecursionError):
        with pytest.raises(InputError):
            load_batch(path)


def test_error_at_the_end_of_a_big_file(tmp_path: Path, chunk: Any) -> None:
    chunk(4096)
    text = json.dumps(generate(2000, 4000, seed=3), indent=1)
    path = tmp_path / "b.json"
    path.write_text(text[:-1] + "x}")  # after the last member's value: no ',' but an x
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(path.read_text())
    with pytest.raises(InputError) as info:
        load_batch(path)
    e = expected.value
    assert str(info.value) == f"{path}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}"


def rows(plan: LoadPlan) -> dict[str, Any]:
    return {
        "counts": (plan.object_count, plan.link_count),
        "link_tags": [r for c in plan.link_tags() for r in c],
        "objects": [r for c in plan.objects() for r in c],
        "references": [r for c in plan.references() for r in c],
        "links": [(c.resolved, c.unresolved) for c in plan.links()],
    }


@pytest.mark.parametrize(
    "order",
    [
        ["objects", "references", "links", "linkTags"],
        ["links", "references", "objects", "linkTags"],
        ["objects", "links", "references", "linkTags"],
        ["linkTags", "references", "links", "objects"],
    ],
)
def test_sections_in_any_order_plan_the_same_rows(order: list[str], tmp_path: Path) -> None:
    data = generate(300, 600, seed=4, batch_id="o")
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"batchId": "o", **{k: data[k] for k in order}}))
    assert rows(open_plan(path)) == rows(plan_load(batch_from_dict(data)))


def test_a_duplicate_link_id_found_by_its_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "_SMALL", 10)  # the numpy path, on a small batch
    data = generate(200, 400, seed=2)
    data["links"][350]["linkId"] = data["links"][17]["linkId"]
    data["links"][390]["linkId"] = data["links"][5]["linkId"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        open_plan(path)
    link_id = data["links"][17]["linkId"]
    assert str(info.value) == (
        f"{path}: links[350] (linkId {link_id!r}): linkId: duplicate linkId {link_id!r} (first at links[17])"
    )


def test_late_problems_are_counted_as_the_whole_batch_was(tmp_path: Path) -> None:
    data = generate(50, 100, seed=1)
    data["objects"][40]["objectType"] = 5
    data["links"][90]["linkType"] = "sometimes"
    data["links"][91].pop("linkTag")
    data["extra"] = 1
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        open_plan(path)
    assert str(info.value) == (
        f"{path}: objects[40] (objectId 'o40'): objectType: input should be a valid string, got a number"
        " (and 3 more problems)"
    )
