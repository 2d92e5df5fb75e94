"""A `Resource` turns one Cloudflare item into one record, or says which field it cannot read.

tests/test_catalog.py checks whole listings against tests/catalog_contract.py; this module pins
each value rule on single items, fast enough to run for every mutant of resources.py
(docs/mutation.md).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from tap_cloudflare_stream.catalog.resources import LIVE_INPUTS, STORAGE_USAGE, VIDEOS
from tests.catalog_contract import live_input_record, storage_record, video_record

ACCOUNT = "0123456789abcdef0123456789abcdef"
TODAY = datetime.date(2026, 10, 1)
LISTING = "20261001T041714.123456Z"
VIDEO: dict[str, Any] = {
    "uid": "v1",
    "meta": {"name": "Launch teaser 042.mp4", "downloaded-from": "x"},
    "creator": None,
    "created": "2024-05-06T07:08:09Z",
    "modified": "2024-05-07T07:08:09Z",
    "uploaded": "2024-05-06T07:09:09Z",
    "duration": 12.5,
    "size": 2048,
    "input": {"width": 1920, "height": 1080},
    "readyToStream": True,
    "readyToStreamAt": "2024-05-06T07:10:00Z",
    "status": {"state": "ready", "errorReasonCode": ""},
    "liveInput": None,
    "clippedFrom": None,
    "requireSignedURLs": False,
    "scheduledDeletion": None,
    "thumbnail": "https://example.com/t.jpg",
    "preview": "https://example.com/p",
}


def test_a_video_becomes_the_contracts_record() -> None:
    record = VIDEOS.record(ACCOUNT, VIDEO, TODAY, LISTING)
    assert record == video_record(ACCOUNT, VIDEO, LISTING)


def test_a_live_input_and_a_storage_reading_become_the_contracts_records() -> None:
    live = {
        "uid": "l1",
        "meta": {"name": "studio"},
        "created": "2024-01-01T00:00:00Z",
        "modified": "2024-02-01T00:00:00Z",
        "enabled": True,
        "deleteRecordingAfterDays": 30,
    }
    record = LIVE_INPUTS.record(ACCOUNT, live, TODAY, LISTING)
    assert record == live_input_record(ACCOUNT, live, LISTING)
    usage = {"totalStorageMinutes": 10.5, "totalStorageMinutesLimit": 1000, "videoCount": 3}
    assert STORAGE_USAGE.record(ACCOUNT, usage, TODAY) == storage_record(ACCOUNT, usage, TODAY)
    assert STORAGE_USAGE.record(ACCOUNT, usage, TODAY)["date"] == "2026-10-01"


def test_missing_fields_and_paths_through_non_objects_are_null() -> None:
    item = {"uid": "v2", "status": "not an object", "input": None}
    record = VIDEOS.record(ACCOUNT, item, TODAY)
    assert record["uid"] == "v2"
    assert (record["name"], record["width"], record["status_state"], record["meta"]) == (
        None,
        None,
        None,
        None,
    )


def test_a_whole_float_in_an_integer_column_is_an_integer() -> None:
    record = VIDEOS.record(ACCOUNT, {**VIDEO, "size": 2048.0, "duration": 3}, TODAY)
    assert record["size"] == 2048
    assert type(record["size"]) is int
    assert type(record["duration"]) is int  # a number column keeps an integer as it is


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("size", 2048.5, "a video whose size is 2048.5 (expected integer)"),
        ("size", True, "a video whose size is True (expected integer)"),
        ("duration", False, "a video whose duration is False (expected number)"),
        ("duration", "12", "a video whose duration is '12' (expected number)"),
        ("readyToStream", 1, "a video whose readyToStream is 1 (expected boolean)"),
        ("created", 1714979289, "a video whose created is 1714979289 (expected string)"),
        ("meta", ["a"], "a video whose meta is ['a'] (expected object)"),
        ("input", {"width": "wide"}, "a video whose input.width is 'wide' (expected integer)"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_path(
    field: str, value: Any, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)) as raised:
        VIDEOS.record(ACCOUNT, {**VIDEO, field: value}, TODAY)
    assert str(raised.value) == says


def test_an_item_without_its_key_cannot_be_recorded() -> None:
    with pytest.raises(ValueError, match=r"^a video without uid$"):
        VIDEOS.record(ACCOUNT, {**VIDEO, "uid": None}, TODAY)
    with pytest.raises(ValueError, match=r"^a live input without uid$"):
        LIVE_INPUTS.record(ACCOUNT, {"created": "x"}, TODAY)


def test_the_schema_requires_the_key_and_describes_each_column() -> None:
    schema = VIDEOS.schema()
    assert list(schema["properties"])[:3] == ["account_id", "uid", "name"]
    assert schema["required"] == ["account_id", "uid", "listing_id"]
    assert list(schema["properties"])[-1] == "listing_id"
    assert schema["properties"]["name"]["description"] == "meta.name, the name the dashboard shows."
    assert schema["properties"]["creator"]["description"] == "creator"
    assert schema["properties"]["size"]["type"] == ["integer", "null"]
    usage = STORAGE_USAGE.schema()
    assert list(usage["properties"])[:2] == ["account_id", "date"]
    assert usage["required"] == ["account_id", "date"]
    assert usage["properties"]["date"] == {
        "type": ["string"],
        "format": "date",
        "description": "The UTC day the figure was read (one row per account and day).",
    }


def test_items_are_counted_in_words() -> None:
    assert (VIDEOS.items(1), VIDEOS.items(2), LIVE_INPUTS.items(0)) == (
        "1 video",
        "2 videos",
        "0 live inputs",
    )
