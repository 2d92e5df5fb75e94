"""The HTTP side: endpoint, authentication, rate limiting, faults and the request log."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from graphql import DocumentNode, GraphQLError, parse

from .config import Fault, StandinConfig
from .errors import RATE_LIMITED, UNAUTHORIZED, error_body, error_entry
from .execution import RequestContext, RequestShape, request_shape, run, validation_errors
from .faults import MANGLING, REPLACING, FaultPlanner, mangle_rows, replacing_response
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


@dataclass
class RequestLogEntry:
    """One POST to the endpoint, as the server saw and answered it."""

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

    # --- one request ---------------------------------------------------------------------------

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(connection)
                self.connections_accepted += 1
            else:
                self._connections.discard(connection)

    def handle_post(self, handler: _Handler, raw: bytes) -> None:
        """Answer one POST to the endpoint and log it."""
        config = self.config
        with self._lock:
            number = next(self._numbers)
        arrived = config.clock()
        entry = RequestLogEntry(
            number, arrived, None, "other", {}, None, 0, 0, None, None, "none", handler.path
        )
        fault: Fault | None = None
        try:
            reply, fault = self._answer(handler, raw, entry)
        except Exception:  # a stand-in bug must still answer like Cloudflare would
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
            answer = replacing_response(fault)
            if isinstance(answer.body, str):
                html = answer.body.encode()
                error = f"HTTP {answer.status} (html)"
                return _Reply(
                    answer.status, html, "text/html; charset=UTF-8", answer.headers, error
                ), fault
            errors = answer.body.get("errors")
            reply = _json_reply(answer.status, answer.body, answer.headers)
            reply.error = errors[0]["message"] if errors else None
            return reply, fault
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)

        credential, readable = self._authenticate(handler)
        entry.credential = credential
        if readable is False:
            return _error_reply(401, UNAUTHORIZED), fault
        now = config.clock()
        left = self._limiter.lockout_left(config, credential, now)
        if left is not None:
            return self._rate_limited(handler, left), fault
        if syntax_error is not None or document is None:
            message = syntax_error.message if syntax_error else "error parsing query"
            return _error_reply(400, message), fault
        if variables is not None and not isinstance(variables, dict):
            return _error_reply(400, "error parsing args: variables must be an object"), fault
        if operation is not None and not isinstance(operation, str):
            return _error_reply(400, "error parsing args: operationName must be a string"), fault
        errors = validation_errors(document)
        if errors:
            body = {"data": None, "errors": [error_entry(e.message) for e in errors]}
            return _json_reply(400, body, error=errors[0].message), fault
        lockout = self._limiter.spend(config, credential, now, shape.queries)
        if lockout is not None:
            return self._rate_limited(handler, lockout), fault

        ctx = RequestContext(
            config=config,
            readable_accounts=None if readable is True else readable,
            budget_left=self._limiter.remaining(config, credential, now),
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

    def _authenticate(self, handler: _Handler) -> tuple[str, list[str] | bool]:
        """(non-secret credential label, readable accounts | True for all | False if refused)."""
        config = self.config
        authorization = handler.headers.get("Authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer":
                for index, (known, accounts) in enumerate(config.tokens.items(), start=1):
                    if token.strip() == known:
                        return f"token#{index}", True if accounts is None else list(accounts)
            return "unknown", False
        email = handler.headers.get("X-Auth-Email")
        key = handler.headers.get("X-Auth-Key")
        if email is None and key is None:
            return "none", False
        for index, ((known_email, known_key), accounts) in enumerate(config.api_keys.items(), 1):
            if email == known_email and key == known_key:
                return f"key#{index}", True if accounts is None else list(accounts)
        return "unknown", False

    def _rate_limited(self, handler: _Handler, seconds_left: float) -> _Reply:
        config = self.config
        account_based = handler.headers.get("X-Rate-Limit-Type", "").lower() == "account-based"
        body = error_body(RATE_LIMITED, code="budget" if account_based else None)
        headers = {}
        if config.rate_limit_retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(seconds_left)))
        status = 200 if config.rate_limit_mode == "200" else 429
        return _json_reply(status, body, headers, error=RATE_LIMITED)

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

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_post

    def _plain(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = dumps(error_body(message))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
