"""`CreatedCursorPaginator` page by page: the next `start`, the overlap it drops, its errors.

Small libraries with pages of 4 put each edge exactly at a page's end: a video one `created`
unit before the page's last one, a tie group across the page end, a tie group larger than a
page. Every listing is read under both readings of `start` (Cloudflare does not say which).
The stand-in's big libraries (tests/test_catalog.py) have the same edges at every page of 1,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import requests

from tap_cloudflare_stream.catalog.pagination import (
    CreatedCursorPaginator,
    format_created,
    parse_created,
)
from tap_cloudflare_stream.cloudflare.answers import CloudflareResponseError

LIMIT = 4
WHERE = "account a1"


def video(uid: str, created: str | None) -> dict[str, Any]:
    return {"uid": uid, "created": created}


def list_page(
    library: list[dict[str, Any]], start: str | None, inclusive: bool
) -> list[dict[str, Any]]:
    """One `asc=true` page of List videos after `start` (library in created, uid order)."""
    if start is None:
        return library[:LIMIT]
    bound = parse_created(start)[0]
    created = [parse_created(v["created"])[0] for v in library]
    after = [
        v for v, c in zip(library, created, strict=True) if c > bound or (inclusive and c == bound)
    ]
    return after[:LIMIT]


def list_all(library: list[dict[str, Any]], inclusive: bool) -> tuple[list[str], list[str]]:
    """(uids the stream keeps, every `start` sent), paging as the catalog stream does."""
    page: list[Mapping[str, Any]] = []
    paginator = CreatedCursorPaginator(LIMIT, lambda _: page, lambda: WHERE)
    kept: list[str] = []
    starts: list[str] = []
    start = None
    while True:
        page = list(list_page(library, start, inclusive))
        kept += [item["uid"] for item in paginator.fresh(page)]
        paginator.advance(requests.Response())
        if paginator.finished:
            return kept, starts
        start = paginator.current_value
        assert start is not None
        starts.append(start)


SECONDS = [
    video("a", "2024-05-06T10:00:00Z"),
    video("b", "2024-05-06T10:00:02Z"),
    video("c", "2024-05-06T10:00:06Z"),  # one second before the page's last
    video("d", "2024-05-06T10:00:07Z"),  # the page's last, its tie group goes on
    video("e", "2024-05-06T10:00:07Z"),
    video("f", "2024-05-06T10:00:09Z"),
    video("g", "2024-05-06T10:00:10Z"),
]
MICROS = [
    video("a", "2024-05-06T10:00:00.000001Z"),
    video("b", "2024-05-06T10:00:07.000002Z"),
    video("c", "2024-05-06T10:00:07.000006Z"),  # one microsecond before the page's last
    video("d", "2024-05-06T10:00:07.000007Z"),
    video("e", "2024-05-06T10:00:07.000007Z"),
    video("f", "2024-05-06T10:00:08.500000Z"),
]


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
@pytest.mark.parametrize(
    ("library", "first_start"),
    [(SECONDS, "2024-05-06T10:00:06Z"), (MICROS, "2024-05-06T10:00:07.000006Z")],
    ids=["seconds", "microseconds"],
)
def test_a_video_one_unit_before_a_pages_last_is_listed_once(
    library: list[dict[str, Any]], first_start: str, inclusive: bool
) -> None:
    kept, starts = list_all(library, inclusive)
    assert kept == [v["uid"] for v in library]
    # One unit of the precision Cloudflare shows before the page's last, in that precision.
    assert starts[0] == first_start


def test_an_offset_other_than_z_reads_the_same_instant() -> None:
    assert parse_created("2024-05-06T12:00:07+02:00") == parse_created("2024-05-06T10:00:07Z")
    assert parse_created("2024-05-06T10:00:07+00:00") == (1714989607000000, False)
    assert parse_created(" 2024-05-06T10:00:07.250000z ") == (1714989607250000, True)


def test_created_is_written_back_in_its_own_precision() -> None:
    assert format_created(1714989607000000, False) == "2024-05-06T10:00:07Z"
    assert format_created(1714989607000001, True) == "2024-05-06T10:00:07.000001Z"


@pytest.mark.parametrize(
    "created",
    [None, 1714989607, "yesterday", "2024-05-06T10:00:07", "2024-05-06T10:00:07X"],
    ids=repr,
)
def test_a_video_without_a_readable_created_does_not_move_start(created: object) -> None:
    page: list[Mapping[str, Any]] = [
        video("0", "2024-05-06T10:00:00Z"),
        video("1", "2024-05-06T10:00:05Z"),
        video("2", "2024-05-06T10:00:06Z"),
        {"uid": "x", "created": created},  # the page's last, and the latest if it were read
    ]
    paginator = CreatedCursorPaginator(LIMIT, lambda _: page, lambda: WHERE)
    paginator.advance(requests.Response())
    assert not paginator.finished
    assert paginator.current_value == "2024-05-06T10:00:05Z"
    assert [item["uid"] for item in paginator.fresh(page)] == ["0", "x"]


def test_a_full_page_without_any_readable_created_ends_the_listing() -> None:
    page: list[Mapping[str, Any]] = [video(str(i), None) for i in range(LIMIT - 1)]
    page.append({"uid": "x", "created": "yesterday"})
    paginator = CreatedCursorPaginator(LIMIT, lambda _: page, lambda: WHERE)
    paginator.advance(requests.Response())
    assert paginator.finished


def test_a_short_page_ends_the_listing_without_reading_created() -> None:
    page: list[Mapping[str, Any]] = [{"uid": "x"}] * (LIMIT - 1)
    paginator = CreatedCursorPaginator(LIMIT, lambda _: page, lambda: WHERE)
    paginator.advance(requests.Response())
    assert paginator.finished


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
@pytest.mark.parametrize(
    "created", ["2024-05-06T10:00:07Z", "2024-05-06T10:00:07.000007Z"], ids=["s", "us"]
)
def test_more_videos_in_one_created_than_a_page_holds_is_an_error_not_a_skip(
    inclusive: bool, created: str
) -> None:
    library = [video("a", "2024-05-06T10:00:00Z")] + [
        video(f"t{i}", created) for i in range(LIMIT + 1)
    ]
    with pytest.raises(CloudflareResponseError) as raised:
        list_all(library, inclusive)
    assert str(raised.value) == (
        f"More than {LIMIT} videos share created {created} for {WHERE}: one List "
        "videos page cannot hold them, and moving on would skip videos. Please report it."
    )
