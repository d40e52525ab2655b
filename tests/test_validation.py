"""docs/interface.md section 2: one test per validation code, each against both stores."""

from __future__ import annotations

from typing import Any

import pytest

from resolver.batchfile.loader import batch_from_dict
from resolver.errors import BatchExistsError, BatchStateError
from resolver.store.base import GraphStore

TAGS = {
    "variantOf": {"childType": "variant", "parentType": "product"},
    "inCategory": {"childType": "product", "parentType": "category"},
}


def obj(oid: str, otype: str, **extra: Any) -> dict[str, Any]:
    return {"objectId": oid, "objectType": otype, **extra}


def link(
    lid: str, child: str, ref: str, tag: str, kind: str = "dependent", separate: bool = False
) -> dict[str, Any]:
    return {
        "linkId": lid,
        "objectId": child,
        "referenceId": ref,
        "linkTag": tag,
        "linkType": kind,
        "separateDependentLinkCreate": separate,
    }


def load(
    store: GraphStore,
    batch_id: str,
    objects: list[Any],
    links: list[Any],
    references: list[Any] | None = None,
    tags: dict[str, Any] | None = None,
) -> list[Any]:
    batch = batch_from_dict(
        {
            "batchId": batch_id,
            "linkTags": TAGS if tags is None else tags,
            "objects": objects,
            "references": references or [],
            "links": links,
        }
    )
    store.load(batch)
    return store.validate(batch_id)


def codes(errors: list[Any]) -> list[str]:
    return [e["code"] for e in errors]


def test_valid_batch_has_no_errors(store: GraphStore, batch_id: str) -> None:
    errors = load(
        store,
        batch_id,
        [obj("p", "product"), obj("v", "variant")],
        [link("l1", "v", "sku", "variantOf")],
        [{"referenceId": "sku", "objectId": "p"}],
    )
    assert errors == []
    assert store.status(batch_id).status == "loaded"


def test_unknown_object(store: GraphStore, batch_id: str) -> None:
    errors = load(store, batch_id, [obj("p", "product")], [link("l1", "ghost", "p", "variantOf")])
    assert codes(errors) == ["unknown-object"]
    assert errors[0]["linkId"] == "l1" and errors[0]["objectId"] == "ghost"
    assert "links[0]" in errors[0]["message"]
    st = store.status(batch_id)
    assert st.status == "error" and codes(st.errors) == ["unknown-object"]


def test_unknown_reference(store: GraphStore, batch_id: str) -> None:
    errors = load(store, batch_id, [obj("v", "variant")], [link("l1", "v", "sku:nope", "variantOf")])
    assert codes(errors) == ["unknown-reference"]
    assert errors[0]["referenceId"] == "sku:nope" and errors[0]["linkId"] == "l1"


def test_unknown_link_tag(store: GraphStore, batch_id: str) -> None:
    errors = load(
        store, batch_id, [obj("p", "product"), obj("v", "variant")], [link("l1", "v", "p", "colourOf")]
    )
    assert codes(errors) == ["unknown-link-tag"]
    assert errors[0]["linkId"] == "l1"


def test_link_tag_mismatch(store: GraphStore, batch_id: str) -> None:
    errors = load(
        store, batch_id, [obj("p", "product"), obj("c", "category")], [link("l1", "p", "c", "variantOf")]
    )
    assert codes(errors) == ["link-tag-mismatch"]
    assert errors[0]["linkId"] == "l1"
    assert "'p' is a 'product'" in errors[0]["message"]


def test_existing_child(store: GraphStore, batch_id: str) -> None:
    errors = load(
        store,
        batch_id,
        [obj("p", "product"), obj("v", "variant", identifierIds={"id": "9"})],
        [link("l1", "v", "p", "variantOf"), link("l2", "v", "p", "variantOf", separate=True)],
    )
    assert codes(errors) == ["existing-child"]
    assert errors[0]["linkId"] == "l1" and errors[0]["objectId"] == "v"


def test_dependency_cycle_is_an_ordered_path(store: GraphStore, batch_id: str) -> None:
    tags = {"dep": {"childType": "t", "parentType": "t"}}
    errors = load(
        store,
        batch_id,
        [obj(x, "t") for x in "abcd"],
        [
            link("l1", "a", "b", "dep"),
            link("l2", "b", "c", "dep"),
            link("l3", "c", "a", "dep"),
            link("l4", "d", "a", "dep"),
        ],
        tags=tags,
    )
    assert codes(errors) == ["dependency-cycle"]
    assert errors[0]["cycle"] == ["a", "b", "c", "a"]
    assert errors[0]["linkIds"] == ["l1", "l2", "l3"]
    assert "a -[l1]-> b -[l2]-> c -[l3]-> a" in errors[0]["message"]


def test_self_dependency_is_a_cycle(store: GraphStore, batch_id: str) -> None:
    tags = {"dep": {"childType": "t", "parentType": "t"}}
    errors = load(store, batch_id, [obj("a", "t")], [link("l1", "a", "a", "dep")], tags=tags)
    assert [e["cycle"] for e in errors] == [["a", "a"]]


def test_cycle_closed_by_independent_link_is_fine(store: GraphStore, batch_id: str) -> None:
    tags = {"dep": {"childType": "t", "parentType": "t"}}
    errors = load(
        store,
        batch_id,
        [obj(x, "t") for x in "ab"],
        [link("l1", "a", "b", "dep"), link("l2", "b", "a", "dep", kind="independent")],
        tags=tags,
    )
    assert errors == []


def test_all_errors_are_kept(store: GraphStore, batch_id: str) -> None:
    errors = load(
        store,
        batch_id,
        [obj("p", "product"), obj("v", "variant")],
        [
            link("l1", "ghost", "p", "variantOf"),
            link("l2", "v", "nope", "variantOf"),
            link("l3", "v", "p", "bogus"),
        ],
    )
    assert codes(errors) == ["unknown-object", "unknown-reference", "unknown-link-tag"]
    assert len(store.status(batch_id).errors) == 3


def test_invalid_batch_is_never_dispatched(store: GraphStore, batch_id: str) -> None:
    load(store, batch_id, [obj("p", "product")], [link("l1", "ghost", "p", "variantOf")])
    with pytest.raises(BatchStateError):
        from resolver.engine import Engine

        Engine(store, batch_id).prepare()
    assert store.claim(batch_id, worker="w", limit=10, lease_seconds=10) == []


def test_existing_batch_id_is_refused_unless_replace(store: GraphStore, batch_id: str) -> None:
    load(store, batch_id, [obj("p", "product")], [])
    batch = batch_from_dict({"batchId": batch_id, "objects": [obj("q", "product")]})
    with pytest.raises(BatchExistsError):
        store.load(batch)
    store.load(batch, replace=True)
    assert store.validate(batch_id) == []
    detail = store.status(batch_id, detail=True)
    assert [o["objectId"] for o in detail.objectList or []] == ["q"]


def test_injection_strings_are_plain_data(store: GraphStore, batch_id: str) -> None:
    evil = "x'}) DETACH DELETE n //"
    evil_type = "T`) MATCH (n) DETACH DELETE n //"
    tags = {evil: {"childType": evil_type, "parentType": evil_type}}
    errors = load(
        store,
        batch_id,
        [obj(evil, evil_type), obj("$p {x}", evil_type, fields={"q": evil})],
        [link(evil, evil, "$p {x}", evil)],
        tags=tags,
    )
    assert errors == []
    detail = store.status(batch_id, detail=True)
    assert sorted(o["objectId"] for o in detail.objectList or []) == sorted([evil, "$p {x}"])
    assert [lk["linkId"] for lk in detail.linkList or []] == [evil]
