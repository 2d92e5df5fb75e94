"""Query semantics of the hour-grained datasets: filter, group and aggregate their events.

There is no `date`: a query's time range comes from `datetime*` bounds, in epoch seconds,
end exclusive. Events in the range (cut at "now") are filtered, grouped by whichever
dimensions the query selects and aggregated (count, sum, avg, uniq, nearest-rank quantiles,
max, min, per-hour bit rate), then ordered and limited.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .config import StandinConfig
from .datasets import DATETIME_STEPS, HOURLY_DATASETS, HourlySpec
from .engine import Filter, compile_filter, format_dimension, pinned, split_key
from .errors import StandinError
from .events import EVENTS, Event, column_index

# One answer row: (dimension values in query order, dotted metric field -> value).
HourlyGroup = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class HourlyQuery:
    """One hourly dataset node's request after argument coercion and the limit checks."""

    spec: HourlySpec
    dimensions: list[str]  # distinct grouped dimensions, in selection order
    metrics: list[str]  # dotted metric fields to compute
    filter: Filter
    order_by: list[str]  # enum values such as "datetimeHour_ASC"
    limit: int
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive


def time_bounds(flt: Filter) -> tuple[int | None, int | None]:
    """[start, end) in epoch seconds that the filter's datetime* bounds pin (OR never widens).

    A bound on a truncated dimension covers whole steps: `datetimeHour_leq: 10:00` ends at 11:00.
    """
    lows: list[int] = []
    highs: list[int] = []
    for field, op, value in pinned(flt):
        if field not in DATETIME_STEPS:
            continue
        step = DATETIME_STEPS[field]
        if op in ("eq", "geq"):
            lows.append(_up(value, step))
        if op == "gt":
            lows.append(_after(value, step))
        if op in ("eq", "leq"):
            highs.append(_after(value, step))
        if op == "lt":
            highs.append(_up(value, step))
        if op == "in" and value:
            lows.append(_up(min(value), step))
            highs.append(_after(max(value), step))
    return (max(lows) if lows else None, min(highs) if highs else None)


def _up(value: float, step: int) -> int:
    """First step boundary at or after value."""
    return math.ceil(value / step) * step


def _after(value: float, step: int) -> int:
    """End of the step containing value."""
    return math.floor(value / step) * step + step


def _getter(spec: HourlySpec, field: str) -> Callable[[Event], Any]:
    """Value of a dimension in an event (datetime* truncated from the event second)."""
    if field in spec.datetime_dimensions:
        step = DATETIME_STEPS[field]
        return lambda event: event[0] - event[0] % step  # type: ignore[operator]
    if field in spec.key_dimensions:
        return itemgetter(column_index(spec.name, field))
    raise not_served(spec, f"dimensions.{field}")


def not_served(spec: HourlySpec, field: str) -> StandinError:
    """A schema field the stand-in does not compute."""
    return StandinError(
        400, f'unknown field "{field}": the stand-in does not serve it for {spec.name} '
        f"(served: {', '.join(spec.available_fields)})",
    )  # fmt: skip


def nearest_rank(values: Sequence[float], percent: int) -> float:
    """The P-th percentile by nearest rank: the ceil(P/100 x n)-th smallest value (1-based)."""
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1])


def _aggregate(kind: str, values: list[Any]) -> Any:
    if kind == "sum":
        return sum(values)
    if kind == "avg":
        return math.fsum(values) / len(values)
    if kind == "uniq":
        return len(set(values))
    if kind == "max":
        return max(values)
    if kind == "min":
        return min(values)
    if kind == "rate_hour":  # bits per second over an hour: bytes x 8 / 3600
        return math.fsum(values) * 8 / 3600
    return nearest_rank(values, int(kind[1:]))  # "p50", "p75", "p90", "p99"


def filter_fields(flt: Filter) -> list[str]:
    """Every field a filter (and its AND/OR branches) compares."""
    fields: list[str] = []
    for key, value in flt.items():
        if value is None:
            continue
        found = (
            [f for sub in value for f in filter_fields(sub)]
            if key in ("AND", "OR")
            else [split_key(key)[0]]
        )
        fields += [f for f in found if f not in fields]
    return fields


def group_events(
    spec: HourlySpec,
    events: Iterable[Event],
    dimensions: Sequence[str],
    metrics: Sequence[str],
    flt: Filter | None,
) -> list[HourlyGroup]:
    """Aggregate the events the filter keeps into groups of exactly `dimensions` (unordered).

    Every filterable field is a dimension, so events are first bucketed by the grouped
    dimensions plus the filtered ones; the filter then runs once per bucket, not per event.
    """
    plans: list[tuple[str, str, int]] = []
    for field in metrics:
        if field not in spec.metrics:
            raise not_served(spec, field)
        kind, column = spec.metrics[field]
        plans.append((field, kind, column_index(spec.name, column) if column else -1))
    extra = [f for f in filter_fields(flt or {}) if f not in dimensions]
    fine = [*dimensions, *extra]
    getters = [_getter(spec, field) for field in fine]
    buckets: dict[tuple[Any, ...], list[Event]] = {}
    for event in events:
        key = tuple([get(event) for get in getters])
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [event]
        else:
            bucket.append(event)
    predicate = compile_filter(None, flt, lambda field: _getter(spec, field)) if flt else None
    width = len(dimensions)
    merged: dict[tuple[Any, ...], list[Event]] = {}
    for key, members in buckets.items():
        if predicate is None or predicate(members[0]):
            merged.setdefault(key[:width], []).extend(members)
    groups: list[HourlyGroup] = []
    for key, members in merged.items():
        values: dict[str, Any] = {}
        for field, kind, at in plans:
            if kind == "count":
                values[field] = len(members)
            else:
                values[field] = _aggregate(kind, [event[at] for event in members])
        groups.append((key, values))
    return groups


def effective_order(spec: HourlySpec, query: HourlyQuery) -> list[tuple[str, bool]]:
    """(field, descending): orderBy, then every grouped dimension not in it, ascending.

    Metric order keys are dotted fields (`avg_bitRateHour_ASC` orders by `avg.bitRateHour`).
    """
    keys: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for item in query.order_by:
        name, _, direction = item.rpartition("_")
        block, _, leaf = name.partition("_")
        field = f"{block}.{leaf}" if leaf else name
        if field in seen:
            continue
        if field in spec.metrics:
            if field not in query.metrics:
                query.metrics.append(field)
        elif name in spec.dimensions:
            if name not in query.dimensions:
                raise StandinError(
                    400, f'cannot order by "{name}": it is not a dimension of the query'
                )
        else:
            raise not_served(spec, field)
        seen.add(field)
        keys.append((field, direction == "DESC"))
    keys.extend((field, False) for field in query.dimensions if field not in seen)
    return keys


def sort_groups(
    groups: list[HourlyGroup], dimensions: Sequence[str], order: Sequence[tuple[str, bool]]
) -> None:
    """Sort in place by the order keys (stable passes from the last key to the first)."""
    for field, descending in reversed(order):
        if field in dimensions:
            position = dimensions.index(field)
            groups.sort(key=lambda group: group[0][position], reverse=descending)
        else:
            groups.sort(key=lambda group: group[1][field], reverse=descending)


def run_hourly(config: StandinConfig, account: str, query: HourlyQuery) -> list[HourlyGroup]:
    """Answer an hourly dataset node: scan the range's events, group, order, limit."""
    spec = query.spec
    order = effective_order(spec, query)
    events = EVENTS.events(config, account, spec.name, query.start, query.end)
    groups = group_events(spec, events, query.dimensions, query.metrics, query.filter)
    sort_groups(groups, query.dimensions, order)
    return groups[: query.limit]


def format_value(field: str, value: Any) -> Any:
    """A metric as the API prints it (max.latestDatetime as RFC 3339 UTC)."""
    return format_dimension("datetime", value) if field == "max.latestDatetime" else value


def hourly_group_to_dict(
    dimensions: Sequence[str], metrics: Sequence[str], group: HourlyGroup
) -> dict[str, Any]:
    """A group shaped like the API's answer: dimensions block, count and metric blocks."""
    values, computed = group
    out: dict[str, Any] = {}
    if dimensions:  # the API's answer has no dimensions block when none is selected
        out["dimensions"] = {
            f: format_dimension(f, v) for f, v in zip(dimensions, values, strict=True)
        }
    for field in metrics:
        block, _, leaf = field.partition(".")
        if leaf:
            out.setdefault(block, {})[leaf] = format_value(field, computed[field])
        else:
            out[field] = computed[field]
    return out


def _epoch(moment: datetime.datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)
    return int(aware.timestamp())


def exact_hourly_rows(
    config: StandinConfig,
    account: str,
    dataset: str,
    dimensions: list[str],
    start: datetime.datetime,
    end: datetime.datetime,
    metrics: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The truth: every group of `dimensions` over events in [start, end) before "now".

    Ignores settings (enabled, retention, limits); `metrics` defaults to every served metric.
    Sorted by the dimensions ascending and shaped like the API's groups.
    """
    spec = HOURLY_DATASETS[dataset]
    fields = list(spec.metrics) if metrics is None else metrics
    events = EVENTS.events(config, account, dataset, _epoch(start), _epoch(end))
    groups = group_events(spec, events, dimensions, fields, None)
    sort_groups(groups, dimensions, [(field, False) for field in dimensions])
    return [hourly_group_to_dict(dimensions, fields, group) for group in groups]
