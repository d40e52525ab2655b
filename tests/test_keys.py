"""idempotencyKeys never collide, whatever the ids hold, and keep their old form for plain ids."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.messages import batch_complete_key, key, link_key, object_key


def test_plain_ids_keep_the_old_form() -> None:
    assert object_key("b", "shirt-red") == "b/object/shirt-red"
    assert link_key("b", "l7") == "b/link/l7"
    assert batch_complete_key("b") == "b/batch-complete"
    assert batch_complete_key("b", 2) == "b/batch-complete/2"
    assert object_key("50%", "a b") == "50%/object/a b"  # no '/': nothing escaped


def test_the_colliding_pair_gets_two_keys() -> None:
    # the old form made both "c/object/x/object/y"
    first, second = object_key("c", "x/object/y"), object_key("c/object/x", "y")
    assert first != second
    assert first == "c/object/x%2Fobject%2Fy/" and second == "c%2Fobject%2Fx/object/y/"


IDS = st.text(alphabet=st.sampled_from("ab/%2F_"), min_size=1, max_size=6)
ITEMS = st.tuples(IDS, st.sampled_from(["object", "link", "batch-complete"]), IDS)


def _key(batch_id: str, kind: str, item_id: str) -> str:
    if kind == "object":
        return object_key(batch_id, item_id)
    if kind == "link":
        return link_key(batch_id, item_id)
    return batch_complete_key(batch_id)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(ITEMS, min_size=2, max_size=40, unique_by=lambda t: (t[0], t[1], t[2])))
def test_keys_are_unique_over_ids_with_slashes(items: list[tuple[str, str, str]]) -> None:
    distinct = {(b, k, i if k != "batch-complete" else "") for b, k, i in items}
    keys = {_key(b, k, i) for b, k, i in distinct}
    assert len(keys) == len(distinct)


@given(parts=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4))
def test_escaped_keys_read_back_to_their_parts(parts: list[str]) -> None:
    made = key(*parts)
    if not any("/" in p for p in parts):
        assert made.split("/") == parts
    else:
        assert made.endswith("/")
        back = [unquote(p) for p in made[:-1].split("/")]
        assert back == parts
