"""Stream's REST (v4) endpoints: routes, query parameters and envelopes over catalog.py.

`GET /client/v4/accounts/{account}/stream` (List videos), `.../stream/live_inputs` and
`.../stream/storage-usage`. Authentication, rate limiting, faults and the request log are the
server's (server.py); this module turns a readable account and query parameters into a response.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from .catalog import PAGE, VideoQuery, list_live_inputs, list_videos, parse_rfc3339, storage_usage
from .config import StandinConfig
from .errors import REST_BAD_PARAM, StandinError, rest_body

REST_PREFIX = "/client/v4/accounts/"
# Path after the account -> resource name (the name Fault.dataset and the request log use).
REST_RESOURCES = {
    "stream": "videos",
    "stream/live_inputs": "live_inputs",
    "stream/storage-usage": "storage_usage",
}
VIDEO_STATES = ("pendingupload", "downloading", "queued", "inprogress", "ready", "error",
                "live-inprogress")  # fmt: skip


def route(path: str) -> tuple[str, str] | None:
    """(account, resource) of a REST path, or None when no endpoint has it."""
    if not path.startswith(REST_PREFIX):
        return None
    account, _, tail = path[len(REST_PREFIX) :].partition("/")
    resource = REST_RESOURCES.get(tail.rstrip("/"))
    return (account, resource) if account and resource else None


def query_params(query_string: str) -> dict[str, str]:
    """Query parameters (the last value wins when one repeats)."""
    return dict(parse_qsl(query_string, keep_blank_values=True))


class ParamError(StandinError):
    """A bad query parameter: HTTP 400."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)
        self.code = REST_BAD_PARAM


def _bool(params: dict[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ParamError(f"{name} must be true or false, not {raw!r}")


def _time(params: dict[str, str], *names: str) -> int | None:
    for name in names:
        raw = params.get(name)
        if raw is not None:
            try:
                return parse_rfc3339(raw)
            except ValueError:
                raise ParamError(f"{name} must be an RFC 3339 date-time, not {raw!r}") from None
    return None


def _limit(params: dict[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return PAGE
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= PAGE:
        raise ParamError(f"limit must be an integer from 1 to {PAGE}, not {raw!r}")
    return limit


def video_query(params: dict[str, str]) -> VideoQuery:
    """List videos' parameters; ParamError when one is malformed."""
    status = params.get("status")
    if status is not None and status not in VIDEO_STATES:
        raise ParamError(f"status must be one of {', '.join(VIDEO_STATES)}, not {status!r}")
    kind = params.get("type")
    if kind is not None and kind not in ("vod", "live"):
        raise ParamError(f"type must be vod or live, not {kind!r}")
    return VideoQuery(
        asc=_bool(params, "asc"),
        start=_time(params, "start", "after"),
        end=_time(params, "end", "before"),
        limit=_limit(params),
        include_counts=_bool(params, "include_counts"),
        status=status,
        type=kind,
        creator=params.get("creator"),
        search=params.get("search"),
        video_name=params.get("video_name"),
        id=params.get("id"),
        live_input_id=params.get("live_input_id"),
    )


def answer(
    config: StandinConfig, account: str, resource: str, params: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(successful envelope, its items) for a readable account; ParamError on bad parameters."""
    if resource == "videos":
        query = video_query(params)
        page, remaining, total = list_videos(config, account, query)
        counts = {"total": total} if query.include_counts else {}
        return rest_body(page, range=remaining, **counts), page
    if resource == "live_inputs":
        include_counts = _bool(params, "include_counts")
        inputs, total = list_live_inputs(config, account)
        result: dict[str, Any] = {"liveInputs": inputs, "range": 0}
        if include_counts:
            result["total"] = total
        return rest_body(result), inputs
    usage = storage_usage(config, account, params.get("creator"))
    return rest_body(usage), [usage]
