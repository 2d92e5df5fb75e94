"""The catalog streams' output contract, written out independently of the tap's declarations.

Each function turns the stand-in's Cloudflare JSON (`expected_videos`, ...) into the record the
tap must emit; the catalog tests and the end-to-end tests compare against them.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

LISTING_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z")


class AnyListingId:
    """Equal to any listing id (`20261206T041714.123456Z`): a record's listing is per run."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and LISTING_ID.fullmatch(other) is not None

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<any listing id>"


def _at(item: Any, *path: str) -> Any:
    for key in path:
        item = item.get(key) if isinstance(item, dict) else None
    return item


def video_record(account: str, video: dict[str, Any], listing_id: object = None) -> dict[str, Any]:
    """The `videos` record of a Cloudflare video (from the listing `listing_id`, else any)."""
    return {
        "account_id": account,
        "uid": video["uid"],
        "name": _at(video, "meta", "name"),
        "creator": video.get("creator"),
        "created": video.get("created"),
        "modified": video.get("modified"),
        "uploaded": video.get("uploaded"),
        "duration": video.get("duration"),
        "size": video.get("size"),
        "width": _at(video, "input", "width"),
        "height": _at(video, "input", "height"),
        "ready_to_stream": video.get("readyToStream"),
        "ready_to_stream_at": video.get("readyToStreamAt"),
        "status_state": _at(video, "status", "state"),
        "status_error_reason_code": _at(video, "status", "errorReasonCode"),
        "live_input": video.get("liveInput"),
        "clipped_from": video.get("clippedFrom"),
        "require_signed_urls": video.get("requireSignedURLs"),
        "scheduled_deletion": video.get("scheduledDeletion"),
        "thumbnail": video.get("thumbnail"),
        "preview": video.get("preview"),
        "meta": video.get("meta"),
        "listing_id": AnyListingId() if listing_id is None else listing_id,
    }


def live_input_record(
    account: str, live: dict[str, Any], listing_id: object = None
) -> dict[str, Any]:
    """The `live_inputs` record of a Cloudflare live input (from `listing_id`, else any)."""
    return {
        "account_id": account,
        "uid": live["uid"],
        "name": _at(live, "meta", "name"),
        "created": live.get("created"),
        "modified": live.get("modified"),
        "enabled": live.get("enabled"),
        "delete_recording_after_days": live.get("deleteRecordingAfterDays"),
        "meta": live.get("meta"),
        "listing_id": AnyListingId() if listing_id is None else listing_id,
    }


def storage_record(account: str, usage: dict[str, Any], day: datetime.date) -> dict[str, Any]:
    """The `storage_usage` record of an account read on `day`."""
    return {
        "account_id": account,
        "date": day.isoformat(),
        "total_storage_minutes": usage["totalStorageMinutes"],
        "total_storage_minutes_limit": usage["totalStorageMinutesLimit"],
        "video_count": usage["videoCount"],
    }
