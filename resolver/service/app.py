"""The HTTP API of ``resolver serve`` (docs/interface.md, "Service"): the FastAPI app factory and
its routes. Every route is a thin layer over what the CLI does: ``open_plan`` + ``load`` +
``validate`` for a submitted batch, ``reporting`` for reports, ``status``, ``views`` and
``export`` for what it shows. Store work runs on the server's thread pool, never on the event
loop; bodies are read on the loop, under the body limit, before anything of them is used.

Layers, outermost first: ``CatchAll`` (a bug: 500 in one line, the traceback in the log),
``TokenCheck`` (401), ``BodyLimit`` (413), ``EscapedIds`` (ids with ``/`` in paths), then the
routes with the handlers of ``answers`` (every error ``{"error": "<one line>"}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .. import __version__, reporting
from ..batchfile.loader import open_plan
from ..errors import ResolverError, StoreUnavailableError, UnknownBatchError, UnknownItemError, UsageError
from ..export import FORMATS, IMAGE_FORMATS, export
from ..text import json_kind
from ..views import MAX_GRAPH_NODES, ExplainLimits, explain, subgraph
from .answers import CatchAll, error_response, install_handlers, json_response
from .auth import TokenCheck
from .limits import DEFAULT_MAX_BODY, BodyLimit
from .paths import EscapedIds, quote_id, unescape
from .runs import Runners

__all__ = ["GRAPH_TYPES", "create_app"]

log = logging.getLogger("resolver.service")

GRAPH_TYPES = {
    "dot": "text/vnd.graphviz; charset=utf-8",
    "mermaid": "text/vnd.mermaid; charset=utf-8",
    "graphml": "application/graphml+xml; charset=utf-8",
    "json": "application/json",
    "png": "image/png",
    "svg": "image/svg+xml",
}
_ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")
#: how long readiness waits for the store (a managed transaction retries for up to a minute)
READY_TIMEOUT = 3.0
# a JSON escape of a lone UTF-16 surrogate: valid JSON, no text a store can keep
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

_BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "a batch document (`resolver schema` prints its schema)",
            }
        },
        "application/zip": {
            "schema": {"type": "string", "format": "binary", "description": "a zip of the CSV files"}
        },
    },
}


def _items_body(kind: str) -> dict[str, Any]:
    example = (
        [{"objectId": "shirt", "identifierIds": {"id": "S-1"}}, {"linkId": "l7"}]
        if kind == "completion"
        else [{"objectId": "hat", "reason": "upstream said no", "permanent": True}]
    )
    schema = {"type": "array", "items": {"type": "object"}, "example": example}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def create_app(runners: Runners, token: str, *, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The app: ``runners`` (with their store and adapter) are resumed when it starts, and
    stopped and closed, adapter and store with them, when it stops."""
    store = runners.store
    probes = ThreadPoolExecutor(1, thread_name_prefix="resolver-ready")  # one stuck probe at most
    drawing = threading.Lock()  # matplotlib draws one picture at a time

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners.listen()
        threading.Thread(target=_resume, args=(runners,), name="resolver-resume", daemon=True).start()
        yield
        await run_in_threadpool(runners.close)
        probes.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="resolver",
        version=__version__,
        summary="Batch imports resolved on a graph: submit batches, report what services created.",
        lifespan=lifespan,
    )
    install_handlers(app)
    # add_middleware puts each in front of the ones before: the last is the outermost
    app.add_middleware(EscapedIds)
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(TokenCheck, token=token)
    app.add_middleware(CatchAll)

    # HTTPBearer only documents the scheme (the /docs page's Authorize button): TokenCheck,
    # before routing, is what refuses a request
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(HTTPBearer(auto_error=False))])

    @v1.post(
        "/batches",
        status_code=201,
        openapi_extra={"requestBody": _BATCH_BODY},
        summary="Submit a batch: validate it, and run it when it is valid",
    )
    async def submit(
        request: Request, batch_id: str | None = Query(None, alias="batchId", min_length=1)
    ) -> Response:
        zipped = _is_zip(request.headers.get("content-type"))
        with tempfile.TemporaryDirectory(prefix="resolver-serve-") as tmp:
            path = Path(tmp) / ("batch.zip" if zipped else "batch.json")
            with path.open("wb") as fh:
                async for chunk in request.stream():
                    fh.write(chunk)
            answer = await run_in_threadpool(_load, runners, path, zipped, batch_id)
        return json_response(answer, 201, {"Location": f"/v1/batches/{quote_id(answer['batchId'])}"})

    @v1.get("/batches", summary="The stored batches' ids")
    def batches() -> Response:
        return json_response({"batchIds": store.batch_ids()})

    @v1.get("/batches/{batchId}", summary="The batch's status, as resolver status --json prints it")
    def status(batchId: str, detail: bool = False) -> Response:
        return json_response(store.status(unescape(batchId), detail=detail).to_json())

    reports: tuple[tuple[reporting.ReportKind, str], ...] = (
        ("completion", "completions"),
        ("failure", "failures"),
    )
    for kind, path in reports:
        v1.add_api_route(
            f"/batches/{{batchId}}/{path}",
            _reports_route(runners, kind),
            methods=["POST"],
            openapi_extra={"requestBody": _items_body(kind)},
            summary=f"Report {path}: a JSON array of items, recorded together",
            name=path,
        )

    @v1.get("/batches/{batchId}/objects/{objectId}/explain", summary="Why the object is where it is")
    def explain_object(
        batchId: str,
        objectId: str,
        max_depth: int = Query(100, alias="maxDepth", ge=1, le=100_000),
    ) -> Response:
        info = explain(
            store, unescape(batchId), unescape(objectId), limits=ExplainLimits(max_depth=max_depth)
        )
        return json_response(info)

    @v1.post("/batches/{batchId}/retry", summary="Put failed and blocked items back, and run the batch")
    async def retry(batchId: str, request: Request) -> Response:
        body = await request.body()
        object_id = _retry_object(body)
        answer = await run_in_threadpool(_retry, runners, unescape(batchId), object_id)
        return json_response(answer)

    @v1.get("/batches/{batchId}/graph", summary="The batch's graph, or the part around one object")
    def graph(
        batchId: str,
        fmt: Literal["dot", "mermaid", "graphml", "json", "png", "svg"] = Query("json", alias="format"),
        around: str | None = Query(None, min_length=1),
        depth: int = Query(2, ge=0, le=1000),
        max_nodes: int = Query(MAX_GRAPH_NODES, alias="maxNodes", ge=1, le=100_000),
    ) -> Response:
        sg = subgraph(store, unescape(batchId), around, depth, max_nodes=max_nodes)
        if fmt in IMAGE_FORMATS:
            with drawing:
                data = export(sg, fmt)
        else:
            data = export(sg, fmt)
        headers = {}
        if sg.note:  # the JSON format has it in the body; a header must be ASCII
            headers["X-Resolver-Note"] = sg.note.encode("ascii", "backslashreplace").decode()
        return Response(data, 200, headers=headers, media_type=GRAPH_TYPES[fmt])

    @v1.get("/ready", summary="Readiness: the graph store answers")
    async def ready() -> Response:
        try:
            where = await asyncio.wait_for(
                asyncio.wrap_future(probes.submit(_probe, runners)), timeout=READY_TIMEOUT
            )
        except TimeoutError:
            return error_response(503, f"the graph store did not answer within {READY_TIMEOUT:.0f}s")
        except StoreUnavailableError as exc:
            return error_response(503, str(exc))
        return json_response({"status": "ready", "store": where, "running": runners.running()})

    app.include_router(v1)

    @app.get("/v1/health", summary="Liveness (no token needed)")
    def health() -> Response:
        return json_response({"status": "ok"})

    assert set(GRAPH_TYPES) == set(FORMATS)
    return app


def _reports_route(runners: Runners, kind: reporting.ReportKind) -> Any:
    async def report(batchId: str, request: Request) -> Response:
        data = _json_body(await request.body())
        answer = await run_in_threadpool(_record, runners, unescape(batchId), kind, data)
        return json_response(answer)

    return report


# -- the work of the routes, on the thread pool ---------------------------------------------------


def _load(runners: Runners, path: Path, zipped: bool, batch_id: str | None) -> dict[str, Any]:
    """Read the body as ``resolver load`` reads a file, store and validate it; a valid batch
    starts running at once."""
    if zipped and not zipfile.is_zipfile(path):
        raise UsageError("request body: Content-Type says zip, but the body is not a zip archive")
    try:
        plan = open_plan(path, batch_id)  # streamed, as the CLI reads a file: memory stays flat
    except UsageError as exc:
        # the CLI's line, naming the body instead of the temporary file it was spooled to
        message = str(exc).replace(str(path), "request body").replace("--batch-id", "batchId")
        raise UsageError(message) from None
    store = runners.store
    store.load(plan)
    errors = store.validate(plan.batch_id)
    if errors:
        return {"batchId": plan.batch_id, "status": "error", "errors": errors}
    status = store.start(plan.batch_id).status
    runners.start(plan.batch_id)
    return {"batchId": plan.batch_id, "status": status, "errors": []}


def _record(runners: Runners, batch_id: str, kind: reporting.ReportKind, data: Any) -> dict[str, Any]:
    reports = reporting.parse_items(data, kind)  # ReportError (400) before anything is recorded
    results = runners.record(batch_id, kind, reports)
    return {"results": [r.to_json() for r in results]}


def _retry(runners: Runners, batch_id: str, object_id: str | None) -> dict[str, Any]:
    store = runners.store
    store.batch_status(batch_id)
    if object_id is not None and store.missing(batch_id, [("object", object_id)]):
        raise UnknownItemError(batch_id, "object", object_id)
    retried = store.retry(batch_id, object_id)
    if retried:
        runners.start(batch_id)
    return {"batchId": batch_id, "retried": retried, "status": store.batch_status(batch_id)}


def _probe(runners: Runners) -> str:
    with contextlib.suppress(UnknownBatchError):
        runners.store.batch_status("\x00readiness probe")  # an indexed read of an id no batch has
    return runners.store.describe()


def _resume(runners: Runners) -> None:
    """On start, in the background (the API answers meanwhile): unfinished batches run again."""
    while True:
        try:
            started = runners.resume()
        except StoreUnavailableError as exc:
            log.warning("resuming stored batches: %s; trying again in 5s", exc)
            if runners.closing.wait(5.0):
                return
            continue
        except ResolverError as exc:
            log.warning("resuming stored batches: %s", exc)
            return
        if started:
            log.info("resumed %d batch(es): %s", len(started), ", ".join(started[:20]))
        return


# -- bodies -------------------------------------------------------------------------------------


def _is_zip(content_type: str | None) -> bool:
    """application/zip: the CSV files; anything else is read as a batch document (JSON), so a
    client that sends no type, or curl's default form type, is not refused for it."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in _ZIP_TYPES


def _json_body(body: bytes) -> Any:
    if not body.strip():
        raise UsageError("request body is empty: expected JSON")
    try:
        data = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError too
        raise UsageError(f"request body is not JSON: {exc}") from None
    except RecursionError:
        raise UsageError("request body is not JSON: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(body):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                "request body holds a lone surrogate (\\ud800-\\udfff), not valid Unicode text"
            ) from None
    return data


def _retry_object(body: bytes) -> str | None:
    if not body.strip():
        return None
    data = _json_body(body)
    if not isinstance(data, dict) or set(data) - {"objectId"}:
        raise UsageError('retry takes an empty body or {"objectId": "..."}')
    object_id = data.get("objectId")
    if object_id is not None and (not isinstance(object_id, str) or not object_id):
        raise UsageError(f"objectId must be a non-empty string, got {json_kind(object_id)}")
    return object_id
