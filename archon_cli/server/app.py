"""The HTTP face of ``archon serve`` (FastAPI): OpenAI's ``/v1/models`` and ``/v1/chat/completions``
(also without the ``/v1`` prefix), and ``/health`` for load balancers.

Every answer that is not a success is OpenAI's error body with its status: 400 malformed request,
401 missing or wrong key, 404 unknown model or path, 405 wrong method, 413 body too large, 429
budget spent, 502 provider failed after archon's retries, 503 shutting down, 500 anything
unexpected. The body is read and validated here, not by FastAPI, so no request, however broken,
gets a framework-shaped error or a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from archon_cli.engine.runner import QueryResult
from archon_cli.errors import ArchonError
from archon_cli.server.protocol import (
    SSE_DONE,
    ApiError,
    ChatRequest,
    completion_body,
    parse_chat_request,
    sse_event,
    stream_chunks,
)
from archon_cli.server.service import (
    ArchitectureService,
    archon_figures,
    new_request_id,
    result_usage,
    shutting_down,
)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(error: ApiError, request_id: str | None = None) -> JSONResponse:
    headers = dict(error.headers)
    if request_id:
        headers["x-request-id"] = request_id
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over the limit of {limit:,} bytes", code="request_too_large")


def create_app(service: ArchitectureService) -> FastAPI:
    app = FastAPI(title="archon", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(ApiError(exc.status_code, message, code=_HTTP_CODES.get(exc.status_code)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ApiError(400, "malformed request", code="invalid_request"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        service.notify(f"internal error on {request.method} {request.url.path}: {type(exc).__name__}")
        return error_response(ApiError(500, "internal server error", type="server_error", code="internal_error"))

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health() -> JSONResponse:
        return JSONResponse(service.health(), status_code=503 if service.draining else 200)

    async def models(request: Request) -> JSONResponse:
        try:
            service.check_key(request.headers.get("authorization"))
        except ApiError as error:
            return error_response(error)
        return JSONResponse({"object": "list", "data": service.models()})

    async def model(request: Request) -> JSONResponse:
        try:
            service.check_key(request.headers.get("authorization"))
            name = request.path_params["name"]
            service.architecture(name)
        except ApiError as error:
            return error_response(error)
        return JSONResponse(next(m for m in service.models() if m["id"] == name))

    async def chat_completions(request: Request) -> Response:
        return await _chat(service, request)

    for prefix in ("/v1", ""):
        app.add_api_route(prefix + "/models", models, methods=["GET"])
        app.add_api_route(prefix + "/models/{name:path}", model, methods=["GET"])
        app.add_api_route(prefix + "/chat/completions", chat_completions, methods=["POST"])
    return app


async def _chat(service: ArchitectureService, request: Request) -> Response:
    """One chat completion: key, body, model, run, then the answer (whole or streamed), logged."""
    started = time.perf_counter()
    request_id = new_request_id()
    chat: ChatRequest | None = None
    result: QueryResult | None = None
    failure: ApiError | None = None
    try:
        if service.draining:
            raise shutting_down()
        service.check_key(request.headers.get("authorization"))
        chat = parse_chat_request(await read_body(request, service.options.max_body_bytes))
        served = service.architecture(chat.model)
        result = await _unless_gone(request, service.run(served, chat.messages, request_id))
        failure = service.failure(result)
    except ApiError as error:
        failure = error
    except (ClientDisconnect, _ClientGone):
        # Nobody reads an answer now: what was not sent yet was cancelled; the log says so.
        model, stream = (chat.model, chat.stream) if chat is not None else (None, False)
        message = "the client disconnected before the answer; the calls not yet sent were cancelled"
        service.record(request_id, model, CLIENT_GONE, stream, None, started, message)
        return Response(status_code=CLIENT_GONE)
    except ArchonError as exc:  # a misconfigured server (a model gone missing): the operator's to fix
        failure = ApiError(500, service.redact(str(exc)), type="server_error", code="server_misconfigured")
        service.notify(f"error: {failure.message}")
    except Exception as exc:
        failure = ApiError(500, "internal server error", type="server_error", code="internal_error")
        service.notify(f"internal error answering {request_id}: {type(exc).__name__}: {service.redact(str(exc))[:200]}")
    if failure is not None or chat is None or result is None:
        failure = failure or ApiError(500, "internal server error", type="server_error", code="internal_error")
        stats = result.stats if result is not None else None
        model, stream = (chat.model, chat.stream) if chat is not None else (None, False)
        service.record(request_id, model, failure.status, stream, stats, started, failure.message)
        return error_response(failure, request_id)

    created = int(time.time())
    usage = result_usage(result)
    figures = archon_figures(served.name, result)
    service.record(request_id, served.name, 200, chat.stream, result.stats, started)
    headers = {"x-request-id": request_id}
    if not chat.stream:
        body = completion_body(request_id, served.name, created, result.answer, usage, figures)
        return Response(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json", headers=headers
        )
    chunks = stream_chunks(request_id, served.name, created, result.answer, usage, figures, chat.include_usage)
    return StreamingResponse(
        _events(chunks),
        media_type="text/event-stream",
        headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
    )


# The status nginx logs for a request whose client closed the connection before the answer.
CLIENT_GONE = 499


class _ClientGone(Exception):
    pass


async def _unless_gone(request: Request, work: Awaitable[QueryResult]) -> QueryResult:
    """``work``, cancelled (with the calls it has not sent yet) if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watch.cancel()
    if task.done():
        if task.cancelled():  # by nothing of this request's: an error, not a cancelled handler
            raise RuntimeError("the run was cancelled")
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise _ClientGone


async def _disconnected(request: Request) -> None:
    """Return when the client goes away (the body has been read: only a disconnect comes now)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _events(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield sse_event(chunk)
    yield SSE_DONE
