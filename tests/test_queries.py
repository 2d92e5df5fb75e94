"""Every query the tap can build validates against Cloudflare's published schema."""

from __future__ import annotations

import datetime
import importlib.resources
from typing import Any

import graphql
import pytest
from graphql.execution.values import get_variable_values

from tap_cloudflare_stream.analytics.datasets import DATASETS, Dataset
from tap_cloudflare_stream.analytics.queries import (
    dataset_query,
    order_by,
    page_filter,
    settings_query,
)
from tap_cloudflare_stream.analytics.windows import Window, day_start

SCHEMA = graphql.build_schema(
    (importlib.resources.files("cloudflare_standin") / "schema.graphql").read_text()
)
DAY = datetime.date(2026, 9, 1)


def _window(dataset: Dataset, steps: int) -> Window:
    step = dataset.time_key.step
    return Window(day_start(DAY), day_start(DAY) + steps * step, step)


def _check(query: str, variables: dict[str, Any]) -> None:
    document = graphql.parse(query)
    assert graphql.validate(SCHEMA, document) == []
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or [], variables)
    assert not isinstance(coerced, list), coerced


def _seek_key(dataset: Dataset) -> tuple[Any, ...]:
    values = {"string": "b" * 32, "integer": 720}
    time = dataset.time_key.render(day_start(DAY))
    return (time, *(values[d.json_type] for d in dataset.dimensions))


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.stream_name)
@pytest.mark.parametrize("seek", [False, True], ids=["first-page", "next-page"])
def test_page_query_validates(dataset: Dataset, seek: bool) -> None:
    after = _seek_key(dataset) if seek else None
    variables = {
        "accountTag": "a" * 32,
        "filter": page_filter(dataset, _window(dataset, 6), after),
        "limit": 10000,
        "orderBy": order_by(dataset),
    }
    _check(dataset_query(dataset), variables)


def test_settings_query_validates() -> None:
    _check(settings_query(DATASETS), {"accountTag": "a" * 32})


def test_query_text_carries_no_values() -> None:
    for dataset in DATASETS:
        text = dataset_query(dataset)
        assert '"' not in text
        assert "$accountTag: string!" in text
        assert f"$filter: {dataset.type_prefix}Filter_InputObject!" in text
        assert "$limit: uint64!" in text


def test_seek_filter_compares_the_whole_key() -> None:
    dataset = DATASETS[1]  # minutes_viewed: date, uid, clientCountryName, mediaType, creator
    after = ("2026-09-03", "u1", "US", "hls", "")
    result = page_filter(dataset, _window(dataset, 1), after)
    assert result["date_geq"] == result["date_leq"] == DAY.isoformat()
    assert result["OR"] == [
        {"date_gt": "2026-09-03"},
        {"date": "2026-09-03", "uid_gt": "u1"},
        {"date": "2026-09-03", "uid": "u1", "clientCountryName_gt": "US"},
        {"date": "2026-09-03", "uid": "u1", "clientCountryName": "US", "mediaType_gt": "hls"},
        {
            "date": "2026-09-03",
            "uid": "u1",
            "clientCountryName": "US",
            "mediaType": "hls",
            "creator_gt": "",
        },
    ]


def test_invalid_variables_are_caught_by_this_check() -> None:
    dataset = DATASETS[0]
    variables = {"accountTag": "a" * 32, "filter": {}, "limit": 1, "orderBy": ["uid_UP"]}
    document = graphql.parse(dataset_query(dataset))
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or [], variables)
    assert isinstance(coerced, list)


def test_hour_windows_are_half_open_times() -> None:
    dataset = next(d for d in DATASETS if d.stream_name == "live_input_events_hourly")
    after = ("2026-09-01T02:00:00Z", "i1", "ok")
    result = page_filter(dataset, _window(dataset, 6), after)
    assert result["datetimeHour_geq"] == "2026-09-01T00:00:00Z"
    assert result["datetimeHour_lt"] == "2026-09-01T06:00:00Z"
    assert result["OR"][:2] == [
        {"datetimeHour_gt": "2026-09-01T02:00:00Z"},
        {"datetimeHour": "2026-09-01T02:00:00Z", "inputId_gt": "i1"},
    ]
