"""Neo4j Browser, for real: headless Chromium logs in, loads the resolver's style and guide from
the assets server, runs a query on a small batch, and the drawn graph must hold the batch's
objects in the colours of their status.

Needs Chromium and chromedriver (tests/system_setup.sh installs them), selenium, and a Neo4j
server with its Browser (the ``neo4j_server`` fixture). The screenshot lands in the test's tmp
dir, and in docs/browser.png when RESOLVER_SAVE_SCREENSHOT=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resolver.adapters import ManualAdapter
from resolver.batchfile.loader import batch_from_dict
from resolver.engine import resolve
from resolver.export import LINK_STYLES, STATUS_COLORS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = pytest.mark.neo4j


def _missing(what: str) -> None:
    message = f"{what} (run tests/system_setup.sh and pip install selenium)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def webdriver_mod() -> Any:
    try:
        from selenium import webdriver
    except ImportError:
        _missing("selenium is not installed")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            _missing(f"{path} is missing")
    return webdriver


@pytest.fixture
def driver(webdriver_mod: Any) -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="resolver-chromium-")
    opts = webdriver_mod.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    drv = webdriver_mod.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


# acme exists; summer completes; shirt is in flight; hat fails, so hat-green is blocked; the
# variants of shirt wait; scarf becomes ready when summer completes.
STATUSES = {
    "acme": "complete",
    "summer": "complete",
    "shirt": "creating",
    "hat": "failed",
    "hat-green": "blocked",
    "shirt-red": "waiting",
    "shirt-blue": "waiting",
    "scarf": "ready",
}


def _batch(batch_id: str) -> Any:
    def link(lid: str, child: str, parent: str, tag: str, kind: str = "dependent") -> dict[str, str]:
        return {"linkId": lid, "objectId": child, "referenceId": parent, "linkTag": tag, "linkType": kind}

    return batch_from_dict(
        {
            "batchId": batch_id,
            "linkTags": {
                "byBrand": {"childType": "product", "parentType": "brand"},
                "inCategory": {"childType": "product", "parentType": "category"},
                "variantOf": {"childType": "variant", "parentType": "product"},
            },
            "objects": [
                {"objectId": "acme", "objectType": "brand", "identifierIds": {"brandId": "42"}},
                {"objectId": "summer", "objectType": "category"},
                {"objectId": "shirt", "objectType": "product"},
                {"objectId": "hat", "objectType": "product"},
                {"objectId": "scarf", "objectType": "product"},
                {"objectId": "shirt-red", "objectType": "variant"},
                {"objectId": "shirt-blue", "objectType": "variant"},
                {"objectId": "hat-green", "objectType": "variant"},
            ],
            "links": [
                link("l1", "shirt", "acme", "byBrand"),
                link("l2", "shirt", "summer", "inCategory", "independent"),
                link("l3", "hat", "acme", "byBrand"),
                link("l4", "scarf", "summer", "inCategory"),
                link("l5", "shirt-red", "shirt", "variantOf"),
                link("l6", "shirt-blue", "shirt", "variantOf"),
                link("l7", "hat-green", "hat", "variantOf"),
            ],
        }
    )


@pytest.fixture
def browser_batch(neo4j_store: Any) -> Iterator[str]:
    bid = f"viz-browser-{uuid.uuid4().hex[:8]}"
    batch = _batch(bid)
    neo4j_store.load(batch)
    assert neo4j_store.validate(bid) == []
    resolve(neo4j_store, bid, ManualAdapter(), once=True)  # acme completes; the rest is in flight
    neo4j_store.complete_objects(bid, [("summer", {"id": "c-1"})])
    neo4j_store.fail(bid, "object", "hat", "HTTP 500 from the catalog")
    detail = neo4j_store.status(bid, detail=True)
    assert {o["objectId"]: o["status"] for o in detail.objectList} == STATUSES
    try:
        yield bid
    finally:
        neo4j_store.delete(bid)


def _wait(what: str, check: Any, timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _run(driver: Any, command: str) -> None:
    """Type a command into the Browser's editor and run it; the new frame lands on top."""
    from selenium.webdriver.common.by import By

    editor = driver.find_element(By.CSS_SELECTOR, '[data-testid="activeEditor"] textarea')
    editor.send_keys(command)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="editor-Run"]').click()


_TOP_FRAME_GRAPH = """
const frame = document.querySelector('[data-testid="frame"]');
if (!frame) return null;
const nodes = Array.from(frame.querySelectorAll('svg g.node')).map(g => ({
  caption: Array.from(g.querySelectorAll('text.caption')).map(t => t.textContent).join(' '),
  fill: (g.querySelector('circle.b-outline') || {getAttribute: () => null}).getAttribute('fill'),
}));
const rels = Array.from(frame.querySelectorAll('svg g.relationship')).map(g => ({
  caption: Array.from(g.querySelectorAll('text')).map(t => t.textContent).join(' '),
  fill: (g.querySelector('path.b-outline') || {getAttribute: () => null}).getAttribute('fill'),
}));
return {command: (frame.querySelector('[data-testid="frameCommand"]') || {}).textContent || '',
        nodes, rels};
"""


def test_browser_draws_the_batch_in_status_colours(
    driver: Any,
    neo4j_server: Any,
    browser_batch: str,
    assets_port: int,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    if not getattr(neo4j_server, "http_url", ""):
        pytest.skip("the Neo4j server under test has no known HTTP (Browser) URL")
    driver.get(neo4j_server.http_url.rstrip("/") + "/browser/")
    connect = _wait(
        "the connect form", lambda: driver.find_elements(By.CSS_SELECTOR, '[data-testid="connect"]')
    )
    address = driver.find_element(By.CSS_SELECTOR, '[data-testid="boltaddress"]')
    address.send_keys(Keys.CONTROL, "a")
    address.send_keys(Keys.DELETE)
    address.send_keys(neo4j_server.uri)  # the scheme typed here switches the scheme selector
    driver.find_element(By.CSS_SELECTOR, '[data-testid="username"]').send_keys(neo4j_server.username)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="password"]').send_keys(neo4j_server.password)
    connect[0].click()
    _wait("the login", lambda: "connected as user" in driver.find_element(By.TAG_NAME, "body").text)

    # The style and the guide from our assets server. "localhost" is on the Browser's default
    # allowlist, so this works whatever the server's browser.* settings are.
    base = f"http://localhost:{assets_port}"
    _run(driver, f":play {base}/guide.html")
    _wait("the guide", lambda: "Resolver: watch a batch" in driver.find_element(By.TAG_NAME, "body").text)
    guide_frame = driver.find_element(By.CSS_SELECTOR, '[data-testid="frame"]')
    assert len(guide_frame.find_elements(By.CSS_SELECTOR, "pre.runnable")) >= 2  # on the first slide
    _run(driver, f":style {base}/resolver.grass")
    _wait(
        "the style frame", lambda: driver.find_elements(By.CSS_SELECTOR, '[data-testid="exportGraSSButton"]')
    )

    _run(driver, f"MATCH (n:PendingObject {{batchId: '{browser_batch}'}})-[r]-(m) RETURN n, r, m")

    def drawn() -> Any:
        graph = driver.execute_script(_TOP_FRAME_GRAPH)
        ok = graph and "MATCH" in graph["command"] and len(graph["nodes"]) >= len(STATUSES)
        return graph if ok else None

    _wait("the graph", drawn)
    time.sleep(3)  # let the force layout settle before the picture
    graph = drawn()
    driver.save_screenshot(str(tmp_path / "browser-window.png"))
    shot = tmp_path / "browser.png"  # the result frame alone: editor line, graph, overview
    driver.find_element(By.CSS_SELECTOR, '[data-testid="frame"]').screenshot(str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"
    if os.environ.get("RESOLVER_SAVE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "browser.png")

    # Captions are the objectIds (the Browser may wrap a long one over lines).
    by_caption = {"".join(n["caption"].split()): n for n in graph["nodes"]}
    assert sorted(by_caption) == sorted(STATUSES), graph["nodes"]
    for object_id, status in STATUSES.items():
        fill = (by_caption[object_id]["fill"] or "").upper()
        assert fill == STATUS_COLORS[status][0], (object_id, status, fill)
    # 7 links, each drawn once although the undirected match returns it twice; captions are the
    # link tags, and the one independent link (LINKED_TO) has its own colour.
    assert len(graph["rels"]) == 7
    tags = sorted("".join(r["caption"].split()) for r in graph["rels"])
    assert tags == sorted(
        ["byBrand", "byBrand", "inCategory", "inCategory", "variantOf", "variantOf", "variantOf"]
    )
    fills = sorted((r["fill"] or "").upper() for r in graph["rels"])
    assert fills == sorted([LINK_STYLES["dependent"][0]] * 6 + [LINK_STYLES["independent"][0]]), fills
