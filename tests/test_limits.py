"""Unusable input refused cleanly, with memory bounded: duplicate keys, integers beyond 64
bits, files that are no regular files, size caps (zip bombs), repeated CSV columns, repeated zip
members. Each case runs through the real command on Neo4j: exit 2, one ``error:`` line,
nothing stored, and a canary batch loaded before reads back unchanged. The bombs and the
endless devices are run in a fresh process whose peak RSS and wall time are measured."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resolver.batchfile.limits import CappedReader
from resolver.batchfile.loader import load_batch
from resolver.errors import InputError, UnknownBatchError
from resolver.store.base import GraphStore

from .conftest import ROOT, Server, run_cli
from .test_fuzz import Canary
from .test_unusable_input import CSV_GOOD

GOOD = json.loads((ROOT / "examples" / "spring-catalog.json").read_text())
MIB = 1 << 20


def _json(tmp: Path, text: str) -> Path:
    path = tmp / "batch.json"
    path.write_text(text, encoding="utf-8")
    return path


def _good_with(**replace: str) -> str:
    """The spring catalog as text, with some of its text replaced (to put in what JSON
    dumping cannot make, such as a key twice)."""
    text = json.dumps(GOOD)
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _csv_folder(tmp: Path, **files: str) -> Path:
    folder = tmp / "b"
    folder.mkdir()
    for name, text in {**CSV_GOOD, **files}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _zip(tmp: Path, members: dict[str, bytes]) -> Path:
    path = tmp / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bomb(tmp: Path, zeros: int) -> Path:
    """objects.csv: a header, then ``zeros`` zero bytes; a few hundred kB compressed."""
    path = tmp / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("batch/objects.csv", "w", force_zip64=True) as f,
    ):
        f.write(b"objectId,objectType\n")
        block = bytes(MIB)
        for _ in range(zeros // MIB):
            f.write(block)
    return path


def _lying_bomb(tmp: Path) -> Path:
    """A member whose directory entry says 1,000 bytes while it inflates to 64 MiB."""
    path = _bomb(tmp, 64 * MIB)
    raw = bytearray(path.read_bytes())
    entry = raw.rfind(b"PK\x01\x02")  # the central directory's entry for it
    struct.pack_into("<I", raw, entry + 24, 1000)  # its uncompressed size
    path.write_bytes(bytes(raw))
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "batch.json"
    os.mkfifo(path)
    return path


def _dev_zero_in_folder(tmp: Path) -> Path:
    folder = tmp / "b"
    folder.mkdir()
    (folder / "objects.csv").symlink_to("/dev/zero")
    return folder


Case = tuple[Callable[[Path], Path], dict[str, str], str]

CASES: dict[str, Case] = {
    # name: (make the input, environment, fragment of the one error line)
    "top-level-key-twice": (
        lambda t: _json(t, _good_with(**{'{"batchId": "spring-catalog"': '{"batchId": "a", "batchId": "b"'})),
        {},
        "top level: duplicate key 'batchId'",
    ),
    "key-twice-in-fields": (
        lambda t: _json(t, _good_with(**{'"title": "Shirt"': '"title": "Shirt", "title": "Hat"'})),
        {},
        "objects[1] (objectId 'shirt'): fields: duplicate key 'title'",
    ),
    "key-twice-in-a-link": (
        lambda t: _json(t, _good_with(**{'"linkId": "l1"': '"linkId": "l1", "linkId": "l2"'})),
        {},
        "links[0] (linkId 'l2'): duplicate key 'linkId'",
    ),
    "tag-twice": (
        lambda t: _json(
            t,
            _good_with(
                **{'"linkTags": {': '"linkTags": {"variantOf": {"childType": "a", "parentType": "b"}, '}
            ),
        ),
        {},
        "linkTags: duplicate key 'variantOf'",
    ),
    "key-twice-in-csv-cell": (
        lambda t: _csv_folder(
            t, **{"objects.csv": 'objectId,objectType,fields\na,t,"{""x"": 1, ""x"": 2}"\n'}
        ),
        {},
        "objects.csv: line 2: column fields: duplicate key 'x'",
    ),
    "integer-of-5000-digits": (
        lambda t: _json(t, _good_with(**{'"Shirt"': "9" * 5000})),
        {},
        "objects[1] (objectId 'shirt'): fields.title: integer with 5000 digits does not fit in 64 bits",
    ),
    "integer-beyond-64-bits": (
        lambda t: _json(t, _good_with(**{'"42"': str(2**63)})),
        {},
        f"objects[0] (objectId 'acme'): identifierIds.brandId: integer {2**63} does not fit in 64 bits",
    ),
    "integer-beyond-64-bits-in-csv": (
        lambda t: _csv_folder(
            t, **{"objects.csv": f'objectId,objectType,fields\na,t,"{{""n"": -{2**64}}}"\n'}
        ),
        {},
        "objects.csv: line 2: column fields: integer with 20 digits does not fit in 64 bits",
    ),
    "file-over-cap": (
        lambda t: _json(t, json.dumps(GOOD)),
        {"RESOLVER_MAX_FILE_BYTES": "100"},
        "more than the 100 allowed (RESOLVER_MAX_FILE_BYTES)",
    ),
    "csv-file-over-cap": (
        lambda t: _csv_folder(t),
        {"RESOLVER_MAX_FILE_BYTES": "60"},
        "objects.csv: file is 159 bytes, more than the 60 allowed (RESOLVER_MAX_FILE_BYTES)",
    ),
    "zip-member-declared-over-cap": (
        lambda t: _zip(t, {"b/objects.csv": b"objectId,objectType\n" + b"a,t\n" * 1000}),
        {"RESOLVER_MAX_MEMBER_BYTES": "1000"},
        "b.zip/objects.csv: inflates to 4,020 bytes, more than the 1,000 allowed (RESOLVER_MAX_MEMBER_BYTES)",
    ),
    "zip-over-cap": (
        lambda t: _zip(t, {n: v.encode() for n, v in CSV_GOOD.items()}),
        {"RESOLVER_MAX_ZIP_BYTES": "300"},
        "the zip inflates to",
    ),
    "zip-bomb": (
        lambda t: _bomb(t, 64 * MIB),
        {"RESOLVER_MAX_MEMBER_BYTES": str(16 * MIB)},
        "objects.csv: inflates to 67,108,884 bytes, more than the 16,777,216 allowed",
    ),
    "zip-bomb-with-lying-header": (_lying_bomb, {}, "objects.csv: cannot read zip member"),
    "zip-bomb-under-default-caps": (lambda t: _bomb(t, 64 * MIB), {}, "field larger than field limit"),
    "fifo": (_fifo, {}, "batch.json: not a regular file (a FIFO)"),
    "dev-zero": (lambda t: Path("/dev/zero"), {}, "/dev/zero: not a regular file (a character device)"),
    "csv-symlink-to-dev-zero": (
        _dev_zero_in_folder,
        {},
        "b/objects.csv: not a regular file (a character device)",
    ),
    "repeated-csv-column": (
        lambda t: _csv_folder(t, **{"objects.csv": "objectId,objectType,objectId\na,t,b\n"}),
        {},
        "objects.csv: line 1: repeated column(s): objectId",
    ),
    "two-objects-csv-in-zip": (
        lambda t: _zip(
            t, {"a/objects.csv": b"objectId,objectType\na,t\n", "b/objects.csv": b"objectId,objectType\n"}
        ),
        {},
        "two members named objects.csv: 'a/objects.csv' and 'b/objects.csv'",
    ),
    "same-member-twice-in-zip": (
        lambda t: _zip_twice(t),
        {},
        "two members named objects.csv: 'objects.csv' and 'objects.csv'",
    ),
}
MEASURED = {"zip-bomb", "zip-bomb-with-lying-header", "zip-bomb-under-default-caps", "fifo", "dev-zero"}
MEASURED |= {"csv-symlink-to-dev-zero"}


def _zip_twice(tmp: Path) -> Path:
    path = tmp / "b.zip"
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "w") as zf:
        zf.writestr("objects.csv", "objectId,objectType\na,t\n")
        zf.writestr("objects.csv", "objectId,objectType\nb,t\n")
    return path


# runs the command in its own process and reports its peak RSS (KiB) and wall time
_MEASURE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run([sys.executable, "-m", "resolver", *sys.argv[1:]], capture_output=True, text=True)
print(json.dumps({"code": p.returncode, "out": p.stdout, "err": p.stderr,
                  "wall": time.perf_counter() - t0,
                  "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measured_cli(*args: str, env: dict[str, str]) -> dict[str, Any]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_"))}
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture
def canary(neo4j_store: GraphStore) -> Iterator[Canary]:
    c = Canary(neo4j_store, None)  # read through the store: a CLI process per case adds a second
    yield c
    neo4j_store.delete(c.batch_id)


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_in_one_line_nothing_stored(
    case: str, tmp_path: Path, neo4j_server: Server, canary: Canary
) -> None:
    make, env, fragment = CASES[case]
    path = make(tmp_path)
    batch_id = f"lim-{case}-{uuid.uuid4().hex[:8]}"
    full_env = {**neo4j_server.env(), **env}
    if case in MEASURED:
        result = measured_cli("load", str(path), "--batch-id", batch_id, env=full_env)
        code, out, err = result["code"], result["out"], result["err"]
        assert result["rss"] < 500 * 1024, f"peak RSS {result['rss'] / 1024:.0f} MiB"
        assert result["wall"] < 5, f"{result['wall']:.1f} s"
    else:
        run = run_cli("load", str(path), "--batch-id", batch_id, env=full_env)
        code, out, err = run.code, run.out, run.err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    assert out == ""
    with pytest.raises(UnknownBatchError) as nothing:
        canary.store.batch_status(batch_id)
    assert type(nothing.value) is UnknownBatchError  # not even a load left behind
    canary.check_and_delete()


def test_caps_are_checked_as_bytes_arrive() -> None:
    """A file that grows after it was measured, or a member that inflates past its header."""
    reader = CappedReader(io.BytesIO(b"x" * 100), "f.json", 64, "RESOLVER_MAX_FILE_BYTES", "file grew")
    with pytest.raises(
        InputError, match=r"f.json: file grew past the 64 bytes allowed \(RESOLVER_MAX_FILE_BYTES\)"
    ):
        while reader.read(10):
            pass


def test_a_bad_cap_setting_is_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "load",
        str(_json(tmp_path, json.dumps(GOOD))),
        env={"RESOLVER_STORE": "memory", "RESOLVER_MAX_FILE_BYTES": "lots"},
    )
    assert result.code == 2
    assert result.err == "error: RESOLVER_MAX_FILE_BYTES must be a positive number of bytes, got 'lots'\n"


def test_valid_integers_at_the_edges_load(tmp_path: Path) -> None:
    text = _good_with(**{'"Shirt"': f"[{2**63 - 1}, {-(2**63)}, 0, -0, 1e300]"})
    batch = load_batch(_json(tmp_path, text))
    assert batch.objects[1].fields["title"] == [2**63 - 1, -(2**63), 0, 0, 1e300]
