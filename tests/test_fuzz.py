"""Hostile input (issue 6 item 5): the loader and the ``load`` command fed damaged, mistyped, huge,
unicode-laden and injection-laden batches.

Properties, for every generated case:

(a) in process, ``load_batch`` returns a ``Batch`` or raises ``InputError``, nothing else; a batch
    it returns is UTF-8 text throughout and loads and validates on the memory store;
(b) through the real command: exit 0, 1 or 2, never a traceback, and on exit 2 exactly one
    ``error: `` line and nothing on stdout;
(c) on Neo4j, exit 2 stores nothing, and a canary batch loaded before the run reads back the same
    after it (``status --json --detail``).

Valid batches whose every id, tag and type is an injection or unicode string load and read back
verbatim. A 100k-long dependent chain loads, validates and resolves without recursion; a
100k-long dependent cycle is one ``dependency-cycle`` error.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from resolver.adapters import SimulateAdapter
from resolver.batchfile.loader import batch_from_dict, load_batch
from resolver.engine import resolve
from resolver.errors import InputError, UnknownBatchError
from resolver.models import Batch, Message
from resolver.store.base import GraphStore
from resolver.store.memory import MemoryStore
from resolver.text import shown

from .conftest import Server, cli_env, run_cli
from .test_unusable_input import CSV_GOOD

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.json"))
EXAMPLE_BYTES = [p.read_bytes() for p in EXAMPLE_FILES]
EXAMPLE_DATA = [json.loads(b) for b in EXAMPLE_BYTES]

_SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
IN_PROCESS = settings(max_examples=200, deadline=None, derandomize=False, suppress_health_check=_SUPPRESS)
# a subprocess per example: no shrinking (hundreds of runs), the first failing case is reported as is
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
THROUGH_CLI = settings(
    max_examples=15, deadline=None, derandomize=False, suppress_health_check=_SUPPRESS, phases=_NO_SHRINK
)
READ_BACK = settings(
    max_examples=2, deadline=None, derandomize=False, suppress_health_check=_SUPPRESS, phases=_NO_SHRINK
)

# --- the nasty strings ------------------------------------------------------------------------

INJECTIONS = [
    "x'}) DETACH DELETE n //",
    'x"}) DETACH DELETE n //',
    "x'}) MATCH (m) DETACH DELETE m RETURN 1 //",
    "$p",
    "$batchId",
    "`",
    "a`b``c",
    "`) DETACH DELETE n //",
    ":Label",
    "n:Batch:Object",
    "]->(",
    "]->(m) DETACH DELETE m //",
    "{batchId: 'x'}",
    "\\",
    "\\'",
    "' OR 1=1 --",
    "MATCH (n) DETACH DELETE n",
    "/*",
    "${x}",
    "%s%n",
    "null",
]
UNICODE = [
    "\x00",
    "a\x00b",
    "\u2028",
    "\u2029",
    "\u200f",  # RTL mark
    "\u202ex\u202c",  # RTL override
    "\u200e\u061c",
    "\ufeff",
    "🧨",
    "👩\u200d👩\u200d👧",
    "e\u0301",
    "\r\n",
    "\t",
    " ",
    "\x7f",
    "\x1b[31m",
    "\U0010ffff",
]
NASTY = INJECTIONS + UNICODE
ALL_NASTY = [*NASTY, "$p`:Label]->(\u202e"]  # 39: three groups of hostile_batch
SURROGATES = ["\ud800", "\udfff", "a\udbff", "\udc00z"]

_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=4)
HOSTILE_IDS = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.one_of(st.sampled_from(NASTY), _TEXT), min_size=1, max_size=4).map("".join),
)
# with lone surrogates somewhere: valid JSON text ("\ud800"), not valid Unicode
SURROGATE_IDS = st.tuples(HOSTILE_IDS, st.sampled_from(SURROGATES)).map("".join)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(NASTY),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
JSON_JUNK = [
    "\\ud800",
    "\\udfff",
    "\\u0000",
    "\\u2028",
    '"',
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-0",
    "99999999999999999999999",
    "null",
    "\x00",
    "\u2028",
    "\u202e",
    "🧨",
    "\ufeff",
    "PK\x05\x06",
]

# --- building cases ---------------------------------------------------------------------------

Case = tuple[str, Any]  # ("json", bytes) | ("dir", {name: bytes}) | ("zip", bytes)


def write_case(case: Case, parent: Path) -> Path:
    kind, payload = case
    where = Path(tempfile.mkdtemp(dir=parent))
    if kind == "dir":
        folder = where / "batch"
        folder.mkdir()
        for name, content in payload.items():
            (folder / name).write_bytes(content)
        return folder
    path = where / ("batch.zip" if kind == "zip" else "batch.json")
    path.write_bytes(payload)
    return path


def hostile_batch(ids: list[str], batch_id: str | None = None) -> dict[str, Any]:
    """A valid batch (exit 0) whose every id, tag, type and key is one of the distinct ``ids``,
    13 per group: an existing object, a dependent link through a reference, an independent link."""
    assert ids and len(ids) % 13 == 0
    data: dict[str, Any] = {"linkTags": {}, "objects": [], "references": [], "links": []}
    for g in range(0, len(ids), 13):
        o0, o1, o2, ref, l0, l1, t0, t1, ty0, ty1, ty2, key, value = ids[g : g + 13]
        data["linkTags"][t0] = {"childType": ty2, "parentType": ty1}
        data["linkTags"][t1] = {"childType": ty1, "parentType": ty0}
        data["objects"] += [
            {"objectId": o0, "objectType": ty0, "identifierIds": {key: value}},
            {"objectId": o1, "objectType": ty1, "fields": {key: value, value: [key, {key: None}]}},
            {"objectId": o2, "objectType": ty2, "fields": {}},
        ]
        data["references"].append({"referenceId": ref, "objectId": o1})
        data["links"] += [
            {"linkId": l0, "objectId": o2, "referenceId": ref, "linkTag": t0, "linkType": "dependent"},
            {"linkId": l1, "objectId": o1, "referenceId": o0, "linkTag": t1, "linkType": "Independent"},
        ]
    if batch_id is not None:
        data["batchId"] = batch_id
    return data


@st.composite
def mangled_json(draw: st.DrawFn) -> Case:
    """An example file truncated, with bytes flipped, cut out or inserted."""
    raw = bytearray(draw(st.sampled_from(EXAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "delete", "insert", "insert"]))
        pos = draw(st.integers(0, len(raw)))
        if op == "truncate":
            del raw[pos:]
        elif op == "flip" and pos < len(raw):
            raw[pos] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 16))]
        else:
            junk = draw(
                st.one_of(
                    st.sampled_from(JSON_JUNK).map(str.encode),
                    st.binary(min_size=1, max_size=6),
                    st.text(min_size=1, max_size=4).map(str.encode),
                )
            )
            raw[pos:pos] = junk
    return ("json", bytes(raw))


def _positions(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    out = []
    for key, value in items:
        out.append((*path, key))
        out.extend(_positions(value, (*path, key)))
    return out


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def wrong_types(draw: st.DrawFn) -> Case:
    """An example batch with a random leaf (or subtree) replaced by a random JSON value, deleted,
    renamed, or an extra key or item added."""
    data = json.loads(json.dumps(draw(st.sampled_from(EXAMPLE_DATA))))
    for _ in range(draw(st.integers(1, 3))):
        positions = _positions(data)
        if not positions:
            break
        path = draw(st.sampled_from(positions))
        parent, key = _at(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename", "add"]))
        if op == "replace":
            parent[key] = draw(JSON_VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(JSON_VALUES)
        else:
            parent.append(draw(JSON_VALUES))
    if draw(st.booleans()):
        data = draw(JSON_VALUES)  # not even an object at the top, now and then
    return ("json", json.dumps(data, ensure_ascii=draw(st.booleans())).encode())


@st.composite
def unicode_batches(draw: st.DrawFn) -> Case:
    """The hostile batch with lone surrogates in some ids: escaped in the JSON text ("\\ud800"),
    or written raw (then it is not UTF-8 at all)."""
    ids = draw(st.lists(st.one_of(HOSTILE_IDS, SURROGATE_IDS), min_size=13, max_size=13, unique=True))
    data = hostile_batch(ids, draw(st.one_of(st.none(), HOSTILE_IDS, SURROGATE_IDS)))
    if draw(st.booleans()):
        return ("json", json.dumps(data, ensure_ascii=True).encode())
    return ("json", json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass"))


CSV_HEADER_JUNK = [
    "objectId",
    "objectType",
    "fields",
    "linkId",
    "",
    "objectId ",
    "OBJECTID",
    '"',
    "a,b",
    "🧨",
]


def _csv_line(cells: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def mangled_csv(draw: st.DrawFn) -> Case:
    """The CSV batch with random bytes in a file, ragged rows, wrong headers, hostile or
    surrogate-escaped cells, a file missing; as a folder, a zip, or a damaged zip."""
    files = {name: text.encode() for name, text in CSV_GOOD.items()}
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(CSV_GOOD)))
        lines = files.get(name, b"").split(b"\n")
        op = draw(st.sampled_from(["bytes", "replace", "ragged", "header", "cell", "drop"]))
        if op == "bytes":
            at = draw(st.integers(0, len(lines) - 1))
            lines[at] = draw(st.binary(max_size=12)) + lines[at]
        elif op == "replace":
            lines = draw(st.binary(max_size=64)).split(b"\n")
        elif op == "ragged":
            at = draw(st.integers(1, max(1, len(lines) - 1)))
            if at < len(lines):
                cut = draw(st.booleans())
                lines[at] = lines[at].rsplit(b",", 1)[0] if cut else lines[at] + b",extra"
        elif op == "header":
            header = draw(st.lists(st.sampled_from(CSV_HEADER_JUNK) | st.text(max_size=6), max_size=7))
            lines[0] = _csv_line(header).rstrip(b"\n")
        elif op == "cell" and len(lines) > 1:
            at = draw(st.integers(1, len(lines) - 1))
            cells = next(csv.reader([lines[at].decode("utf-8", "replace")]), [])
            if cells:
                cell = draw(st.one_of(HOSTILE_IDS, st.sampled_from(JSON_JUNK), JSON_VALUES.map(json.dumps)))
                cells[draw(st.integers(0, len(cells) - 1))] = cell
                lines[at] = _csv_line(cells).rstrip(b"\n")
        elif op == "drop":
            files.pop(name, None)
            continue
        files[name] = b"\n".join(lines)
    shape = draw(st.sampled_from(["dir", "zip", "damaged-zip"]))
    if shape == "dir":
        return ("dir", files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(f"batch/{name}", content)
    raw = bytearray(buf.getvalue())
    if shape == "damaged-zip":
        for _ in range(draw(st.integers(1, 3))):
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
    return ("zip", bytes(raw))


ANY_CASE = st.one_of(mangled_json(), wrong_types(), unicode_batches(), mangled_csv())

# named nasty cases, always run

_SPRING = json.loads((ROOT / "examples" / "spring-catalog.json").read_text())
SURROGATE_IN_FIELDS: Case = (
    "json",
    b'{"objects": [{"objectId": "a", "objectType": "t", "fields": {"x": "\\ud800"}}]}',
)
SURROGATE_IN_ID: Case = ("json", b'{"objects": [{"objectId": "\\udfff", "objectType": "t"}]}')
NAN_IDENTIFIER: Case = (
    "json",
    b'{"objects": [{"objectId": "a", "objectType": "t", "identifierIds": {"id": NaN}}]}',
)


def _zip_end_record() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("objects.csv", "objectId,objectType\n")
    return buf.getvalue()[-22:]


# a JSON file that ends like a zip archive: zipfile.is_zipfile says yes, the archive is broken
JSON_WITH_ZIP_TRAILER: Case = ("json", json.dumps(_SPRING).encode() + _zip_end_record())
CSV_SURROGATE_FIELDS: Case = (
    "dir",
    {"objects.csv": b'objectId,objectType,fields\na,t,"{""x"": ""\\udc00""}"\n'},
)
INJECTION_EVERYWHERE: Case = ("json", json.dumps(hostile_batch(ALL_NASTY)).encode())
TRUNCATED: Case = ("json", EXAMPLE_BYTES[0][: len(EXAMPLE_BYTES[0]) // 2])
NOT_UTF8_ID: Case = ("json", b'{"objects": [{"objectId": "caf\xe9", "objectType": "t"}]}')
ID_TOO_LONG: Case = ("json", json.dumps({"objects": [{"objectId": "x" * 1025, "objectType": "t"}]}).encode())


def _huge() -> dict[str, Any]:
    wide = {f"k{i}\u2028🧨": i for i in range(10_000)}
    return {
        "linkTags": {f"tag{i}": {"childType": "t", "parentType": "t"} for i in range(10_000)},
        "objects": [
            {"objectId": "big", "objectType": "t", "fields": {"blob": "é🧨\u202e" * 555_556}},  # 5 MB
            {"objectId": "wide", "objectType": "t", "fields": wide},
            {
                "objectId": "ids",
                "objectType": "t",
                "identifierIds": {f"id{i}": str(i) for i in range(10_000)},
            },
            {"objectId": "x" * 1024, "objectType": "t" * 1024},
        ],
        "links": [
            {
                "linkId": "l",
                "objectId": "wide",
                "referenceId": "big",
                "linkTag": "tag9999",
                "linkType": "dependent",
            }
        ],
    }


# an unknown key or column whose name holds a line break must not make a second line
NEWLINE_KEY: Case = ("json", b'{"objects": [], "a\\nerror: b": 1}')
NEWLINE_HEADER: Case = ("dir", {"objects.csv": '"x\u2028y",objectId,objectType\n'.encode()})
HUGE: Case = ("json", json.dumps(_huge(), ensure_ascii=False).encode())


def _broken_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in CSV_GOOD.items():
            zf.writestr(name, text)
    return buf.getvalue().replace(b"PK\x01\x02", b"PK\x01\x03", 1)  # central directory damaged


BROKEN_ZIP: Case = ("zip", _broken_zip())


def named(*cases: Case) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        for case in reversed(cases):
            fn = example(case=case)(fn)
        return fn

    return decorate


# --- (a) in process ---------------------------------------------------------------------------


def check_loader(path: Path) -> Batch | None:
    """(a): a Batch or an InputError, nothing else; a Batch is UTF-8 clean and loads."""
    try:
        batch = load_batch(path)
    except InputError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in message and "\r" not in message, message  # one line on a terminal
        return None
    json.dumps(batch.model_dump(), ensure_ascii=False).encode("utf-8")  # no lone surrogate survives
    store = MemoryStore()
    store.load(batch)
    assert batch.batchId is not None
    errors = store.validate(batch.batchId)
    assert all(e["code"] and e["message"] for e in errors)
    return batch


# a whole file that is one number too big for 64 bits (found by hypothesis: a traceback once)
TOP_LEVEL_BIG_INT: Case = ("json", b"99999999999999999999999")


@IN_PROCESS
@named(
    TRUNCATED,
    JSON_WITH_ZIP_TRAILER,
    NAN_IDENTIFIER,
    TOP_LEVEL_BIG_INT,
    ("json", b""),
    ("json", b"\xef\xbb\xbf"),
)
@given(case=mangled_json())
def test_loader_survives_mangled_json(case: Case, tmp_path: Path) -> None:
    check_loader(write_case(case, tmp_path))


@IN_PROCESS
@named(("json", b"[]"), ("json", b"null"), ("json", b'"x"'), ID_TOO_LONG)
@given(case=wrong_types())
def test_loader_survives_wrong_types(case: Case, tmp_path: Path) -> None:
    check_loader(write_case(case, tmp_path))


@IN_PROCESS
@named(SURROGATE_IN_FIELDS, SURROGATE_IN_ID, NOT_UTF8_ID, INJECTION_EVERYWHERE)
@given(case=unicode_batches())
def test_loader_survives_unicode(case: Case, tmp_path: Path) -> None:
    check_loader(write_case(case, tmp_path))


@IN_PROCESS
@named(CSV_SURROGATE_FIELDS, BROKEN_ZIP, ("dir", {}), ("dir", {"objects.csv": b"\xff\xfe"}))
@given(case=mangled_csv())
def test_loader_survives_mangled_csv(case: Case, tmp_path: Path) -> None:
    check_loader(write_case(case, tmp_path))


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        (SURROGATE_IN_FIELDS, "fields.x: \\ud800 is a lone surrogate"),
        (SURROGATE_IN_ID, "objectId: \\udfff is a lone surrogate"),
        (CSV_SURROGATE_FIELDS, "line 2: column fields: \\udc00 is a lone surrogate"),
        (NAN_IDENTIFIER, "invalid JSON: NaN is not a JSON number"),
        (("json", b'{"objects": [], "x": 1e999}'), "invalid JSON: number 1e999 is out of range"),
        (JSON_WITH_ZIP_TRAILER, "cannot read zip archive"),
        (BROKEN_ZIP, "cannot read zip archive"),
        (NEWLINE_KEY, "'a\\nerror: b': unknown key"),
        (NEWLINE_HEADER, "unknown column(s): 'x\\u2028y'"),
    ],
    ids=[
        "surrogate-fields",
        "surrogate-id",
        "surrogate-csv",
        "nan",
        "overflow",
        "zip-trailer",
        "broken-zip",
        "newline-key",
        "newline-header",
    ],
)
def test_hostile_input_is_unusable_in_one_line(case: Case, fragment: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_batch(write_case(case, tmp_path))
    assert fragment in str(info.value)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("bad", ["x\udcff", "x" * 1025, ""])
def test_batch_id_option_follows_the_id_rules(bad: str) -> None:
    with pytest.raises(InputError, match="--batch-id"):
        load_batch(EXAMPLE_FILES[0], batch_id=bad)


def test_huge_fields_load(tmp_path: Path) -> None:
    batch = check_loader(write_case(HUGE, tmp_path))
    assert batch is not None and len(batch.objects[0].fields["blob"].encode()) >= 5_000_000


# --- (b), (c) through the real command --------------------------------------------------------


@pytest.fixture(params=["memory", "neo4j"])
def cli_store(request: pytest.FixtureRequest) -> tuple[dict[str, str], GraphStore | None]:
    """The command's environment, and the Neo4j store it writes to (None for memory)."""
    if request.param == "memory":
        return cli_env("memory", None), None
    server: Server = request.getfixturevalue("neo4j_server")
    return cli_env("neo4j", server), request.getfixturevalue("neo4j_store")


class Canary:
    """A batch loaded before a fuzz run (Neo4j only), which must read back identically after it:
    through the CLI's `status --json --detail` given the CLI's environment, else the store's."""

    def __init__(self, store: GraphStore, env: dict[str, str] | None) -> None:
        self.store, self.env = store, env
        self.batch_id = f"fz-canary-{uuid.uuid4().hex[:10]}"
        store.load(load_batch(EXAMPLE_FILES[0], batch_id=self.batch_id))
        store.validate(self.batch_id)
        self.before = self.read()

    def read(self) -> Any:
        if self.env is None:
            return self.store.status(self.batch_id, detail=True)
        result = run_cli("status", self.batch_id, "--json", "--detail", env=self.env)
        assert result.code == 0, result.err
        return result.json()

    def check_and_delete(self) -> None:
        assert self.read() == self.before
        assert self.store.delete(self.batch_id)


@pytest.fixture
def canary(cli_store: tuple[dict[str, str], GraphStore | None]) -> Iterator[Canary | None]:
    env, store = cli_store
    if store is None:
        yield None
        return
    c = Canary(store, env)
    yield c
    c.store.delete(c.batch_id)  # when the test failed before checking it


def check_cli_load(path: Path, batch_id: str, env: dict[str, str], store: GraphStore | None) -> int:
    """(b) and (c) for one file; returns the exit code."""
    result = run_cli("load", str(path), "--batch-id", batch_id, env=env)
    assert result.code in (0, 1, 2), (result.code, result.err)
    assert "Traceback" not in result.err, result.err
    if result.code == 2:
        lines = result.err.rstrip("\n").split("\n")  # terminal lines: \u2028 and the like break none
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert "\r" not in result.err
        assert result.out == ""
        if store is not None:
            with pytest.raises(UnknownBatchError):
                store.status(batch_id)
    else:
        if store is not None:
            assert store.delete(batch_id)
        assert result.out.strip() == batch_id
    return result.code


def test_cli_survives_hostile_input(
    cli_store: tuple[dict[str, str], GraphStore | None], canary: Canary | None, tmp_path: Path
) -> None:
    env, store = cli_store
    codes: list[int] = []

    @THROUGH_CLI
    @named(SURROGATE_IN_FIELDS, NEWLINE_KEY, BROKEN_ZIP)
    @given(case=ANY_CASE)
    def check(case: Case) -> None:
        batch_id = f"fz-{uuid.uuid4().hex[:12]}"
        codes.append(check_cli_load(write_case(case, tmp_path), batch_id, env, store))

    check()
    if store is not None:
        # (c) through the command too: after a refused load, `status` does not know the id
        refused = f"fz-never-{uuid.uuid4().hex[:8]}"
        assert check_cli_load(write_case(TRUNCATED, tmp_path), refused, env, store) == 2
        assert run_cli("status", refused, env=env).code == 2
    if canary is not None:
        canary.check_and_delete()
    assert len(codes) >= 15 and 2 in codes


def test_cli_loads_huge_fields(
    cli_store: tuple[dict[str, str], GraphStore | None], tmp_path: Path, batch_id: str
) -> None:
    env, store = cli_store
    path = write_case(HUGE, tmp_path)
    try:
        result = run_cli("load", str(path), "--batch-id", batch_id, env=env)
        assert result.code == 0, result.err
        if store is not None:
            got = run_cli("status", batch_id, "--json", "--detail", env=env).json()
            objects = {o["objectId"]: o for o in got["objectList"]}
            assert objects["ids"]["identifierIds"] == {f"id{i}": str(i) for i in range(10_000)}
            assert set(objects) == {"big", "wide", "ids", "x" * 1024}
    finally:
        if store is not None:
            store.delete(batch_id)


# --- valid but hostile: loads and reads back verbatim -------------------------------------------


def expected_detail(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    alias = {r["referenceId"]: r["objectId"] for r in data["references"]}
    objects = {o["objectId"]: (o["objectType"], o.get("identifierIds")) for o in data["objects"]}
    links = {
        lk["linkId"]: (lk["linkTag"], lk["objectId"], alias.get(lk["referenceId"], lk["referenceId"]))
        for lk in data["links"]
    }
    return objects, links


def got_detail(status: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    objects = {o["objectId"]: (o["objectType"], o["identifierIds"] or None) for o in status["objectList"]}
    links = {lk["linkId"]: (lk["linkTag"], lk["objectId"], lk["parentObjectId"]) for lk in status["linkList"]}
    return objects, links


HOSTILE_ID_LISTS = st.integers(1, 3).flatmap(
    lambda groups: st.lists(HOSTILE_IDS, min_size=13 * groups, max_size=13 * groups, unique=True)
)
# the batch id goes through argv (`status BATCH_ID`): no NUL there
BATCH_ID_SUFFIX = st.sampled_from([s for s in NASTY if "\x00" not in s])


def test_hostile_ids_read_back_verbatim(
    cli_store: tuple[dict[str, str], GraphStore | None], canary: Canary | None, tmp_path: Path
) -> None:
    env, store = cli_store

    @READ_BACK
    @example(ids=ALL_NASTY, suffix="x'}) DETACH DELETE n //")
    @example(ids=ALL_NASTY[::-1], suffix="\u202e🧨\u2028`$p:Label]->(")
    @given(ids=HOSTILE_ID_LISTS, suffix=BATCH_ID_SUFFIX)
    def check(ids: list[str], suffix: str) -> None:
        batch_id = f"fz-{uuid.uuid4().hex[:8]}-{suffix}"
        data = hostile_batch(ids, batch_id)
        path = write_case(("json", json.dumps(data, ensure_ascii=False).encode()), tmp_path)
        try:
            result = run_cli("load", str(path), env=env)
            assert result.code in (0, 1), result.err
            assert "Traceback" not in result.err
            # printed with its control and invisible characters escaped: one line, no escapes obeyed
            assert result.out == shown(batch_id) + "\n"
            if store is None:  # the memory store lives in one process: read back here
                mem = MemoryStore()
                mem.load(load_batch(path))
                mem.validate(batch_id)
                status = json.loads(
                    json.dumps(mem.status(batch_id, detail=True).to_json(), ensure_ascii=False)
                )
            else:
                out = run_cli("status", batch_id, "--json", "--detail", env=env)
                assert out.code == 0, out.err
                status = out.json()
        finally:
            if store is not None:
                store.delete(batch_id)
        assert status["batchId"] == batch_id
        assert got_detail(status) == expected_detail(data)

    check()
    if canary is not None:
        canary.check_and_delete()


def test_non_utf8_argument_is_one_line() -> None:
    result = run_cli("status", "x\udcff", env=cli_env("memory", None))
    assert result.code == 2 and result.err == "error: argument 'x\\xff' is not valid UTF-8\n"


def test_load_prints_a_hostile_batch_id_escaped() -> None:
    batch_id = "fz-\x1b[31mred\nerror: forged"
    result = run_cli("load", str(EXAMPLE_FILES[0]), "--batch-id", batch_id, env=cli_env("memory", None))
    assert result.code == 0, result.err
    assert result.out == repr(batch_id) + "\n" and "\x1b" not in result.out + result.err
    assert len(result.err.splitlines()) == 1


# --- 100k-long chain and cycle ------------------------------------------------------------------

N = 100_000


def _chain(cycle: bool) -> dict[str, Any]:
    """o0 <- o1 <- ... <- o99999 (each depends on the one before), objects listed last first;
    with ``cycle``, o0 depends on o99999 too."""
    objects = [{"objectId": f"o{i}", "objectType": "t"} for i in reversed(range(N))]
    links = [
        {
            "linkId": f"l{i}",
            "objectId": f"o{i}",
            "referenceId": f"o{i - 1}",
            "linkTag": "next",
            "linkType": "dependent",
        }
        for i in range(1, N)
    ]
    if cycle:
        links.append(
            {
                "linkId": "l0",
                "objectId": "o0",
                "referenceId": f"o{N - 1}",
                "linkTag": "next",
                "linkType": "dependent",
            }
        )
    data = {"linkTags": {"next": {"childType": "t", "parentType": "t"}}, "objects": objects, "links": links}
    return data


@pytest.fixture(scope="module")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chain") / "chain.json"
    path.write_text(json.dumps(_chain(cycle=False)))
    return path


def test_deep_chain_resolves_on_memory(chain_file: Path) -> None:
    batch = load_batch(chain_file, batch_id="chain")
    store = MemoryStore()
    store.load(batch)
    assert store.validate("chain") == []
    log: list[Message] = []
    result = resolve(store, "chain", SimulateAdapter(), on_message=log.append)
    assert result.status == "complete"
    assert result.dispatched == N
    creates = [m for m in log if m["kind"] == "create-object"]
    assert [m["objectId"] for m in creates] == [f"o{i}" for i in range(N)]
    assert all(
        m["parents"]
        == [
            {
                "linkId": f"l{i}",
                "linkTag": "next",
                "objectId": f"o{i - 1}",
                "identifierIds": {"id": f"sim-o{i - 1}"},
            }
        ]
        for i, m in enumerate(creates)
        if i
    )
    assert {k: log[-1].get(k) for k in ("kind", "batchId", "status")} == {
        "kind": "batch-complete",
        "batchId": "chain",
        "status": "complete",
    }
    assert store.status("chain").objects == {"complete": N}


def test_deep_chain_loads_and_validates_on_neo4j(neo4j_store: GraphStore, chain_file: Path) -> None:
    batch_id = f"fz-chain-{uuid.uuid4().hex[:8]}"
    try:
        neo4j_store.load(load_batch(chain_file, batch_id=batch_id))
        assert neo4j_store.validate(batch_id) == []
        status = neo4j_store.status(batch_id)
        assert status.status == "loaded"
        assert status.objects == {"ready": 1, "waiting": N - 1}
        assert status.links == {"waiting": N - 1}
    finally:
        assert neo4j_store.delete(batch_id)
    with pytest.raises(UnknownBatchError):
        neo4j_store.status(batch_id)


def test_deep_cycle_is_one_error_on_memory() -> None:
    batch = batch_from_dict({**_chain(cycle=True), "batchId": "cycle"})
    store = MemoryStore()
    store.load(batch)
    errors = store.validate("cycle")
    assert [e["code"] for e in errors] == ["dependency-cycle"]
    cycle = errors[0]["cycle"]
    assert len(cycle) == N + 1 and cycle[0] == cycle[-1] == "o0"
    assert set(cycle) == {f"o{i}" for i in range(N)}
    assert store.status("cycle").status == "error"
