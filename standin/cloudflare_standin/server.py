"""The HTTP side: endpoints, authentication, rate limiting, faults and the request log.

GraphQL is `POST /client/v4/graphql`; Stream's REST catalog is `GET /client/v4/accounts/...`
(rest.py); test hooks that change the catalog are `POST /__standin/...` from loopback only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from graphql import DocumentNode, GraphQLError, parse

from . import catalog, rest
from .config import Fault, StandinConfig
from .errors import (
    RATE_LIMITED,
    REST_AUTH,
    REST_NO_ROUTE,
    REST_RATE_LIMITED,
    UNAUTHORIZED,
    account_rate_limited,
    error_body,
    error_entry,
    rest_error_body,
)
from .execution import RequestContext, RequestShape, request_shape, run, validation_errors
from .faults import (
    LISTING,
    MANGLING,
    REPLACING,
    FaultPlanner,
    FaultResponse,
    mangle_items,
    mangle_listing,
    mangle_rows,
    replacing_response,
    rest_replacing_response,
)
from .ratelimit import RateLimiter

try:
    import orjson

    def dumps(value: Any) -> bytes:
        """JSON bytes of a response body."""
        return orjson.dumps(value)

    def loads(raw: bytes) -> Any:
        """A request body's JSON."""
        return orjson.loads(raw)

except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a bare install alive
    import json

    def dumps(value: Any) -> bytes:
        """JSON bytes of a response body."""
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(raw: bytes) -> Any:
        """A request body's JSON."""
        return json.loads(raw)


ENDPOINT = "/client/v4/graphql"
ADMIN_PREFIX = "/__standin/"
_LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
# The field a REST mangling fault damages, per resource.
_MANGLED_FIELD = {"videos": "uid", "live_inputs": "uid", "storage_usage": "videoCount"}


@dataclass
class RequestLogEntry:
    """One API request (GraphQL POST or REST GET), as the server saw and answered it.

    For REST: kind "rest", dataset the resource (videos, live_inputs, storage_usage),
    variables the query parameters, limit the `limit` parameter, rows the items returned.
    """

    number: int
    time: float
    dataset: str | None
    kind: str
    variables: dict[str, Any]
    limit: int | None
    status: int
    rows: int
    fault: str | None
    error: str | None
    credential: str
    path: str = ""  # the request target as received, query string included
    method: str = "POST"


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None


class StandinServer:
    """A threaded local server answering like Cloudflare's GraphQL Analytics API."""

    def __init__(
        self,
        config: StandinConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: str | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.url = ""
        self.request_log: list[RequestLogEntry] = []
        self.log_path = log_path  # JSON lines of the request log, appended as requests end
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._faults = FaultPlanner()
        self._limiter = RateLimiter()
        self._rest_limiter = RateLimiter()  # Cloudflare's REST budget is separate from GraphQL's
        self.rest_url = ""  # http://host:port/client/v4, the base of the REST endpoints
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.connections_accepted = 0  # TCP connections so far (keep-alive shows as few)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a daemon thread; return the endpoint URL."""
        if self._httpd is not None:
            return self.url
        handler = type("Handler", (_Handler,), {"standin": self})
        httpd = _HTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}{ENDPOINT}"
        self.rest_url = f"http://{self.host}:{self.port}/client/v4"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close kept-alive connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StandinServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def clear_log(self) -> None:
        """Empty the request log (request numbering goes on)."""
        with self._lock:
            del self.request_log[:]

    def reset(self) -> None:
        """Empty the log and restart request numbering, fault counts and rate limiting."""
        with self._lock:
            del self.request_log[:]
            self._numbers = itertools.count(1)
        self._faults.reset()
        self._limiter.reset()
        self._rest_limiter.reset()

    # --- catalog changes for tests -------------------------------------------------------------

    def delete_video(self, account: str, uid: str) -> None:
        """Delete a video from the account's library (KeyError when it has no such video)."""
        with self._lock:
            catalog.delete_video(self.config, account, uid)

    def rename_video(self, account: str, uid: str, name: str, modified: str | None = None) -> None:
        """Set a video's meta.name and modified (default now); KeyError when there is no video."""
        with self._lock:
            catalog.rename_video(self.config, account, uid, name, modified)

    def delete_live_input(self, account: str, uid: str) -> None:
        """Delete a live input (KeyError when the account has no such input)."""
        with self._lock:
            catalog.delete_live_input(self.config, account, uid)

    def change_live_input(
        self,
        account: str,
        uid: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        modified: str | None = None,
    ) -> None:
        """Rename a live input and/or set `enabled`; modified defaults to now."""
        with self._lock:
            catalog.change_live_input(
                self.config, account, uid, name=name, enabled=enabled, modified=modified
            )

    # --- one request ---------------------------------------------------------------------------

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(connection)
                self.connections_accepted += 1
            else:
                self._connections.discard(connection)

    def handle_post(self, handler: _Handler, raw: bytes) -> None:
        """Answer one POST to the GraphQL endpoint and log it."""
        self._handle(handler, "POST", lambda entry: self._answer(handler, raw, entry))

    def handle_rest(self, handler: _Handler) -> None:
        """Answer one GET to a REST endpoint and log it."""
        self._handle(handler, "GET", lambda entry: self._answer_rest(handler, entry))

    def _handle(
        self,
        handler: _Handler,
        method: str,
        answer: Callable[[RequestLogEntry], tuple[_Reply, Fault | None]],
    ) -> None:
        config = self.config
        with self._lock:
            number = next(self._numbers)
        arrived = config.clock()
        entry = RequestLogEntry(
            number, arrived, None, "other", {}, None, 0, 0, None, None, "none", handler.path,
            method,
        )  # fmt: skip
        fault: Fault | None = None
        try:
            reply, fault = answer(entry)
        except Exception:  # a stand-in bug must still answer like Cloudflare would
            if method == "GET":
                reply = _json_reply(500, rest_error_body(10001, "Internal server error"))
            else:
                reply = _json_reply(500, error_body("Internal server error"))
        entry.status = reply.status
        entry.error = entry.error or reply.error
        entry.fault = fault.kind if fault is not None else None
        if entry.status != 200 or entry.error is not None:
            entry.rows = 0
        # Logged before answering, so a client that has its response finds the entry.
        self._record(entry)
        self._send(handler, reply, fault.kind if fault is not None else None)

    def _answer(
        self, handler: _Handler, raw: bytes, entry: RequestLogEntry
    ) -> tuple[_Reply, Fault | None]:
        config = self.config
        try:
            payload = loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return _error_reply(
                400, "error parsing request body: expected a JSON object with a query"
            ), None
        variables = payload.get("variables")
        if isinstance(variables, dict):
            entry.variables = variables
            limit = variables.get("limit")
            entry.limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
        operation = payload.get("operationName")
        document: DocumentNode | None = None
        syntax_error: GraphQLError | None = None
        try:
            document = parse(payload["query"])
        except GraphQLError as exc:
            syntax_error = exc
        shape = request_shape(document) if document is not None else RequestShape("other", None, 0)
        entry.kind, entry.dataset = shape.kind, shape.dataset

        fault = self._faults.decide(config, entry.number, shape.dataset)
        if fault is not None and fault.kind in REPLACING:
            return _fault_reply(replacing_response(fault)), fault
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)

        credential, readable, _ = self._authenticate(handler)
        entry.credential = credential
        if readable is False:
            return _error_reply(401, UNAUTHORIZED), fault
        now = config.clock()
        # With `X-Rate-Limit-Type: account-based` each account has its own budget.
        account = _account_based(handler, variables)
        if account is not None:
            credential = f"{credential} account {account}"
        left = self._limiter.lockout_left(config.graphql_budget(), credential, now)
        if left is not None:
            return self._rate_limited(left, account), fault
        if syntax_error is not None or document is None:
            message = syntax_error.message if syntax_error else "error parsing query"
            return _error_reply(400, message), fault
        if variables is not None and not isinstance(variables, dict):
            return _error_reply(400, "error parsing args: variables must be an object"), fault
        if operation is not None and not isinstance(operation, str):
            return _error_reply(400, "error parsing args: operationName must be a string"), fault
        errors = validation_errors(document, config)
        if errors:
            body = {"data": None, "errors": [error_entry(e.message) for e in errors]}
            return _json_reply(400, body, error=errors[0].message), fault
        lockout = self._limiter.spend(config.graphql_budget(), credential, now, shape.queries)
        if lockout is not None:
            return self._rate_limited(lockout, account), fault

        ctx = RequestContext(
            config=config,
            readable_accounts=None if readable is True else readable,
            budget_left=self._limiter.remaining(config.graphql_budget(), credential, now),
        )
        outcome = run(document, variables, operation, ctx)
        entry.dataset = ctx.dataset or entry.dataset
        if ctx.limit is not None:
            entry.limit = ctx.limit
        entry.rows = ctx.rows
        if fault is not None and fault.kind in MANGLING and outcome.status == 200:
            mangle_rows(fault.kind, [rows for _, rows in ctx.splices])
        errors_out = outcome.body.get("errors")
        reply = _json_reply(outcome.status, outcome.body)
        reply.error = errors_out[0]["message"] if errors_out else None
        return reply, fault

    def _answer_rest(
        self, handler: _Handler, entry: RequestLogEntry
    ) -> tuple[_Reply, Fault | None]:
        config = self.config
        target = urlsplit(handler.path)
        params = rest.query_params(target.query)
        entry.kind, entry.variables = "rest", dict(params)
        raw_limit = params.get("limit", "")
        entry.limit = int(raw_limit) if raw_limit.isdigit() else None
        found = rest.route(target.path)
        if found is None:
            return _rest_error(404, *REST_NO_ROUTE), None
        account, resource = found
        entry.dataset = resource

        fault = self._faults.decide(config, entry.number, resource)
        if fault is not None and fault.kind in REPLACING:
            return _fault_reply(rest_replacing_response(fault)), fault
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)

        credential, readable, stream_read = self._authenticate(handler)
        entry.credential = credential
        if readable is False:
            return _rest_error(401, *REST_AUTH), fault
        if (
            not stream_read
            or account not in config.accounts
            or (readable is not True and account not in readable)
        ):
            return _rest_error(403, *REST_AUTH), fault
        now = config.clock()
        budget = config.rest_budget()
        left = self._rest_limiter.lockout_left(budget, credential, now)
        if left is None:
            left = self._rest_limiter.spend(budget, credential, now, 1)
        if left is not None:
            headers = {}
            if config.rate_limit_retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(left)))
            status = 200 if config.rate_limit_mode == "200" else 429
            return _rest_error(status, *REST_RATE_LIMITED, headers=headers), fault
        try:
            body, items = rest.answer(config, account, resource, params)
        except rest.ParamError as exc:
            return _rest_error(exc.status, exc.code, exc.message), fault
        entry.rows = len(items)
        if fault is not None and fault.kind in MANGLING:
            mangle_items(fault.kind, items, _MANGLED_FIELD[resource])
        if fault is not None and fault.kind in LISTING and resource != "storage_usage":
            mangle_listing(fault.kind, body, items)
        return _json_reply(200, body), fault

    def handle_admin(self, handler: _Handler, raw: bytes) -> None:
        """A test hook (loopback only): POST /__standin/delete-video, rename-video,
        delete-live-input or change-live-input."""
        if handler.client_address[0] not in _LOOPBACK:
            _admin_reply(handler, 403, "admin endpoints answer loopback clients only")
            return
        try:
            payload = loads(raw)
        except ValueError:
            payload = None
        action = handler.path.split("?", 1)[0][len(ADMIN_PREFIX) :]
        fields = ("account", "uid", "name", "modified")
        if not isinstance(payload, dict) or not all(
            isinstance(payload.get(name), str) for name in fields[:2]
        ):
            _admin_reply(handler, 400, "expected a JSON object with account and uid")
            return
        try:
            if action == "delete-video":
                self.delete_video(payload["account"], payload["uid"])
            elif action == "rename-video" and isinstance(payload.get("name"), str):
                self.rename_video(
                    payload["account"], payload["uid"], payload["name"], payload.get("modified")
                )
            elif action == "delete-live-input":
                self.delete_live_input(payload["account"], payload["uid"])
            elif action == "change-live-input" and _optional(payload, name=str, enabled=bool):
                self.change_live_input(
                    payload["account"],
                    payload["uid"],
                    name=payload.get("name"),
                    enabled=payload.get("enabled"),
                    modified=payload.get("modified"),
                )
            else:
                _admin_reply(handler, 404, "unknown admin action or missing name")
                return
        except KeyError as exc:
            _admin_reply(handler, 404, str(exc.args[0]))
            return
        except ValueError:
            _admin_reply(handler, 400, "modified must be an RFC 3339 date-time")
            return
        _admin_reply(handler, 200, "ok")

    def _authenticate(self, handler: _Handler) -> tuple[str, list[str] | bool, bool]:
        """(non-secret credential label, readable accounts | True for all | False if refused,
        whether it has Stream: Read)."""
        config = self.config
        authorization = handler.headers.get("Authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer":
                for index, (known, accounts) in enumerate(config.tokens.items(), start=1):
                    if token.strip() == known:
                        readable = True if accounts is None else list(accounts)
                        return f"token#{index}", readable, known not in config.analytics_only_tokens
            return "unknown", False, False
        email = handler.headers.get("X-Auth-Email")
        key = handler.headers.get("X-Auth-Key")
        if email is None and key is None:
            return "none", False, False
        for index, ((known_email, known_key), accounts) in enumerate(config.api_keys.items(), 1):
            if email == known_email and key == known_key:
                # A global API key has every permission of its user, Stream: Read included.
                return f"key#{index}", True if accounts is None else list(accounts), True
        return "unknown", False, False

    def _rate_limited(self, seconds_left: float, account: str | None) -> _Reply:
        """The user's budget is spent, or with `account` (account-based) that account's."""
        config = self.config
        message = RATE_LIMITED if account is None else account_rate_limited(account)
        body = error_body(message, code=None if account is None else "budget")
        headers = {}
        if config.rate_limit_retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(seconds_left)))
        status = 200 if config.rate_limit_mode == "200" else 429
        return _json_reply(status, body, headers, error=message)

    def _send(self, handler: _Handler, reply: _Reply, fault: str | None) -> None:
        body = reply.body
        if fault == "truncated":
            body = body[: len(body) // 2]
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if fault == "drop":
            # Full Content-Length announced, half the body sent, then the connection closes.
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(body)

    def _record(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self.request_log.append(entry)
            if self.log_path is not None:
                with open(self.log_path, "ab") as sink:
                    sink.write(dumps(dataclasses.asdict(entry)) + b"\n")


def _json_reply(
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    error: str | None = None,
) -> _Reply:
    return _Reply(status, dumps(body), "application/json", dict(headers or {}), error)


def _error_reply(status: int, message: str) -> _Reply:
    return _json_reply(status, error_body(message), error=message)


def _optional(payload: dict[str, Any], **types: type) -> bool:
    """Whether each named field is absent, null, or of its type."""
    return all(payload.get(name) is None or isinstance(payload[name], kind)
               for name, kind in types.items())  # fmt: skip


def _admin_reply(handler: _Handler, status: int, message: str) -> None:
    """An admin hook's answer: {"ok": true} or {"ok": false, "error": message}."""
    body = {"ok": True} if status == 200 else {"ok": False, "error": message}
    handler._send_json(status, body)


def _rest_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> _Reply:
    return _json_reply(status, rest_error_body(code, message), headers, error=message)


def _fault_reply(answer: FaultResponse) -> _Reply:
    """A replacing fault's response: an HTML page or a JSON body (GraphQL or REST)."""
    if isinstance(answer.body, str):
        html = answer.body.encode()
        error = f"HTTP {answer.status} (html)"
        return _Reply(answer.status, html, "text/html; charset=UTF-8", answer.headers, error)
    errors = answer.body.get("errors")
    reply = _json_reply(answer.status, answer.body, answer.headers)
    if errors:
        reply.error = errors[0]["message"]
    elif answer.body.get("result", True) is None and "success" in answer.body:
        reply.error = "result is null"
    return reply


class _HTTPServer(ThreadingHTTPServer):
    """Quiet about clients that hang up (timeouts in tests, dropped connections)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the owning StandinServer."""

    standin: StandinServer
    protocol_version = "HTTP/1.1"  # keep-alive; every response sets Content-Length
    server_version = "cloudflare"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle plus delayed ACKs
        # cost ~40 ms a request on kept-alive connections.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.standin._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.standin._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr lines."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self.path.startswith(ADMIN_PREFIX):
            self.standin.handle_admin(self, raw)
            return
        if self.path.split("?", 1)[0] != ENDPOINT:
            self._plain(404, "Not Found")
            return
        self.standin.handle_post(self, raw)

    def _not_post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        if self.path.split("?", 1)[0] == ENDPOINT:
            self._plain(405, "Method Not Allowed", {"Allow": "POST"})
        else:
            self._plain(404, "Not Found")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(rest.REST_PREFIX):
            self.standin.handle_rest(self)
        else:
            self._not_post()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_post

    def _plain(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, error_body(message), headers)

    def _send_json(
        self, status: int, value: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = dumps(value)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, header in (headers or {}).items():
            self.send_header(name, header)
        self.end_headers()
        self.wfile.write(body)


def _account_based(handler: _Handler, variables: Any) -> str | None:
    """The account whose budget a request spends under account-based limiting, else None."""
    if handler.headers.get("X-Rate-Limit-Type", "").lower() != "account-based":
        return None
    tag = variables.get("accountTag") if isinstance(variables, dict) else None
    return tag if isinstance(tag, str) else ""
