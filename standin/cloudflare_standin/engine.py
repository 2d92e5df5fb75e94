"""Query semantics: filter, group, aggregate, order and limit the finest rows.

Two paths give the same answers: the generic one scans every row of the date range; the fast
one serves the tap's shape (all finest dimensions, ordered by the finest key ascending, date
bounds and an OR of seek prefixes) with a bisect into the packed day rows.
"""

from __future__ import annotations

import datetime
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .config import StandinConfig
from .data import STORE, Row
from .datasets import DATASETS, DATETIME_STEPS, DatasetSpec
from .errors import StandinError

# One answer row: (dimension values in query order, count, sum or None, avg or None).
Group = tuple[tuple[Any, ...], int, int | None, float | None]
Filter = dict[str, Any]

_OPERATORS = ("gt", "geq", "lt", "leq", "neq", "in", "notin", "like", "notlike")
_DAY = datetime.timedelta(days=1)


@dataclass
class Query:
    """One dataset node's request after argument coercion."""

    spec: DatasetSpec
    dimensions: list[str]  # distinct grouped dimensions, in selection order
    filter: Filter
    order_by: list[str]  # enum values such as "date_ASC"
    limit: int
    start: datetime.date  # data range, already checked against the limits
    end: datetime.date


def split_key(key: str) -> tuple[str, str]:
    """Filter key -> (field, operator); bare field means equality ("eq")."""
    field, _, suffix = key.rpartition("_")
    if field and suffix in _OPERATORS:
        return field, suffix
    return key, "eq"


def pinned(flt: Filter) -> Iterator[tuple[str, str, Any]]:
    """(field, operator, value) of each condition at the top level and in AND lists.

    OR branches never narrow what a filter pins, so they are left out; so are null values.
    """
    for key, value in flt.items():
        if value is None or key == "OR":
            continue
        if key == "AND":
            for sub in value:
                yield from pinned(sub)
            continue
        yield (*split_key(key), value)


def date_bounds(flt: Filter) -> tuple[datetime.date | None, datetime.date | None]:
    """Date range the filter pins: its top level and AND lists (OR branches never widen it)."""
    lows: list[datetime.date] = []
    highs: list[datetime.date] = []
    for field, op, value in pinned(flt):
        if op not in ("eq", "geq", "gt", "leq", "lt", "in"):
            continue
        if field == "date":
            days = [datetime.date.fromisoformat(v) for v in value] if op == "in" else None
            point = None if days is not None else datetime.date.fromisoformat(value)
        elif field in DATETIME_STEPS:
            days = [_epoch_day(v) for v in value] if op == "in" else None
            point = None if days is not None else _epoch_day(value - (op == "lt"))
        else:
            continue
        if days is not None:
            if days:
                lows.append(min(days))
                highs.append(max(days))
        elif point is not None:
            if op in ("eq", "geq"):
                lows.append(point)
            if op in ("eq", "leq", "lt"):
                highs.append(point - _DAY if op == "lt" and field == "date" else point)
            if op == "gt":
                lows.append(point + _DAY if field == "date" else point)
    return (max(lows) if lows else None, min(highs) if highs else None)


def _epoch_day(seconds: float) -> datetime.date:
    return datetime.date(1970, 1, 1) + datetime.timedelta(seconds=seconds // 86400 * 86400)


def _getter(spec: DatasetSpec, field: str) -> Callable[[Row], Any]:
    """Value of a dimension in a generic row (datetime* truncated from the event second)."""
    if field in spec.finest_dimensions:
        return itemgetter(spec.finest_dimensions.index(field))
    if field in spec.datetime_dimensions:
        column = len(spec.finest_dimensions)
        step = DATETIME_STEPS[field]
        return lambda row: row[column] - row[column] % step  # type: ignore[operator]
    raise StandinError(400, f'unknown field "{field}"')


def like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regex: % any run, _ one character, backslash escapes."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def compile_filter(
    spec: DatasetSpec | None,
    flt: Filter,
    getter: Callable[[str], Callable[[Row], Any]] | None = None,
) -> Callable[[Row], bool]:
    """A predicate over rows; keys of one object are ANDed, null values ignored.

    `getter` maps a field to its value getter; by default the daily datasets' finest rows.
    """
    if getter is None:
        assert spec is not None
        daily = spec
        getter = lambda field: _getter(daily, field)  # noqa: E731
    predicates: list[Callable[[Row], bool]] = []
    for key, value in flt.items():
        if value is None:
            continue
        if key in ("AND", "OR"):
            subs = [compile_filter(spec, sub, getter) for sub in value]
            if not subs:
                continue  # an empty list constrains nothing
            predicates.append(_all_of(subs) if key == "AND" else _any_of(subs))
            continue
        field, op = split_key(key)
        predicates.append(_comparison(getter(field), op, value))
    if not predicates:
        return lambda row: True
    if len(predicates) == 1:
        return predicates[0]
    return lambda row: all(predicate(row) for predicate in predicates)


def _all_of(predicates: list[Callable[[Row], bool]]) -> Callable[[Row], bool]:
    return lambda row: all(predicate(row) for predicate in predicates)


def _any_of(predicates: list[Callable[[Row], bool]]) -> Callable[[Row], bool]:
    return lambda row: any(predicate(row) for predicate in predicates)


def _dimension_key(position: int) -> Callable[[Group], Any]:
    return lambda group: group[0][position]


def _comparison(get: Callable[[Row], Any], op: str, value: Any) -> Callable[[Row], bool]:
    if op == "eq":
        return lambda row: bool(get(row) == value)
    if op == "neq":
        return lambda row: bool(get(row) != value)
    if op == "gt":
        return lambda row: bool(get(row) > value)
    if op == "geq":
        return lambda row: bool(get(row) >= value)
    if op == "lt":
        return lambda row: bool(get(row) < value)
    if op == "leq":
        return lambda row: bool(get(row) <= value)
    if op in ("in", "notin"):
        members = set(value)
        wanted = op == "in"
        return lambda row: (get(row) in members) == wanted
    pattern = like_pattern(value)
    wanted = op == "like"
    return lambda row: (pattern.fullmatch(get(row)) is not None) == wanted


def effective_order(
    spec: DatasetSpec, dimensions: Sequence[str], order_by: Sequence[str]
) -> list[tuple[str, bool]]:
    """(field, descending) keys: orderBy, then every grouped dimension not in it, ascending."""
    keys: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for item in order_by:
        field, _, direction = item.rpartition("_")
        if field in seen:
            continue
        if field not in ("count", "avg_sampleInterval") and not field.startswith("sum_"):
            if field not in spec.dimensions:
                raise StandinError(400, f'unknown field "{field}" in orderBy')
            if field not in dimensions:
                raise StandinError(
                    400, f'cannot order by "{field}": it is not a dimension of the query'
                )
        seen.add(field)
        keys.append((field, direction == "DESC"))
    keys.extend((field, False) for field in dimensions if field not in seen)
    return keys


def group_rows(
    spec: DatasetSpec,
    rows: Iterable[Row],
    dimensions: Sequence[str],
    predicate: Callable[[Row], bool] | None,
) -> list[Group]:
    """Aggregate rows into groups of exactly `dimensions` (unordered)."""
    getters = [_getter(spec, field) for field in dimensions]
    base = len(spec.finest_dimensions)
    count_at, sum_at, avg_at = base + 1, base + 2, base + 3
    accumulators: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        if predicate is not None and not predicate(row):
            continue
        key = tuple(get(row) for get in getters)
        acc = accumulators.get(key)
        if acc is None:
            acc = accumulators[key] = [0, 0, []]
        acc[0] += row[count_at]
        if spec.sum_metrics:
            acc[1] += row[sum_at]
        if spec.has_avg:
            acc[2].append(row[avg_at])
    return [
        (
            key,
            acc[0],
            acc[1] if spec.sum_metrics else None,
            # simple mean of the finest rows' sampleInterval; fsum makes it order-independent
            math.fsum(acc[2]) / len(acc[2]) if spec.has_avg else None,
        )
        for key, acc in accumulators.items()
    ]


def sort_groups(
    groups: list[Group], dimensions: Sequence[str], order: Sequence[tuple[str, bool]]
) -> None:
    """Sort in place by the order keys (stable passes from the last key to the first)."""
    for field, descending in reversed(order):
        if field == "count":
            key: Callable[[Group], Any] = itemgetter(1)
        elif field.startswith("sum_"):
            key = itemgetter(2)
        elif field == "avg_sampleInterval":
            key = itemgetter(3)
        else:
            key = _dimension_key(dimensions.index(field))
        groups.sort(key=key, reverse=descending)


def run_query(config: StandinConfig, account: str, query: Query) -> list[Group]:
    """Answer a dataset node: fast path when the shape allows, else the generic scan."""
    order = effective_order(query.spec, query.dimensions, query.order_by)
    if config.fast_path:
        seek = fast_path_seek(query, order)
        if seek is not None:
            return _run_fast(config, account, query, *seek)
    predicate = compile_filter(query.spec, query.filter)
    rows = STORE.rows(config, account, query.spec, query.start, query.end)
    groups = group_rows(query.spec, rows, query.dimensions, predicate)
    sort_groups(groups, query.dimensions, order)
    return groups[: query.limit]


_FAST_FILTER_KEYS = {"date", "date_geq", "date_gt", "date_leq", "date_lt", "OR"}


def fast_path_seek(
    query: Query, order: Sequence[tuple[str, bool]]
) -> tuple[tuple[Any, ...] | None] | None:
    """The seek cursor if the query has the tap's shape (None cursor: from the start), else None."""
    finest = query.spec.finest_dimensions
    if sorted(query.dimensions) != sorted(finest):
        return None
    if list(order[: len(finest)]) != [(field, False) for field in finest]:
        return None
    present = {key: value for key, value in query.filter.items() if value is not None}
    if not set(present) <= _FAST_FILTER_KEYS:
        return None
    branches = present.get("OR") or []
    if not branches:
        return (None,)
    if len(branches) > len(finest):
        return None
    by_length = sorted(branches, key=len)
    cursor: list[Any] = []
    for depth, branch in enumerate(by_length):
        # branch `depth` is {finest[0]: c0, ..., finest[depth-1]: c_{depth-1}, finest[depth]_gt: c}
        expected = {*finest[:depth], f"{finest[depth]}_gt"}
        if set(branch) != expected or any(value is None for value in branch.values()):
            return None
        cursor.append(branch[f"{finest[depth]}_gt"])
    for depth, branch in enumerate(by_length):
        if any(branch[finest[i]] != cursor[i] for i in range(depth)):
            return None
    return (tuple(cursor),)


def _run_fast(
    config: StandinConfig, account: str, query: Query, cursor: tuple[Any, ...] | None
) -> list[Group]:
    spec = query.spec
    layout = STORE.layout(config, account, spec)
    finest = spec.finest_dimensions
    positions = [finest.index(field) for field in query.dimensions]
    day = query.start
    cursor_day: datetime.date | None = None
    if cursor is not None:
        cursor_day = datetime.date.fromisoformat(cursor[0])
        first = cursor_day + _DAY if len(cursor) == 1 else cursor_day
        day = max(day, first)
    groups: list[Group] = []
    while day <= query.end and len(groups) < query.limit:
        data = STORE.day(config, account, spec, day)
        begin = 0
        if cursor is not None and day == cursor_day:
            begin = bisect_left(data.keys, layout.seek_bound(cursor[1:]))
        stop = min(len(data), begin + query.limit - len(groups))
        decode = layout.decode
        keys, counts, sums, intervals = data.keys, data.counts, data.sums, data.sample_intervals
        for i in range(begin, stop):
            values = (data.date, *decode(keys[i]))
            groups.append(
                (
                    tuple(values[p] for p in positions),
                    counts[i],
                    sums[i] if sums is not None else None,
                    intervals[i] if intervals is not None else None,
                )
            )
        day += _DAY
    return groups


def format_dimension(field: str, value: Any) -> Any:
    """A dimension value as the API prints it (datetime* as RFC 3339 UTC)."""
    if field in DATETIME_STEPS:
        moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def group_to_dict(spec: DatasetSpec, dimensions: Sequence[str], group: Group) -> dict[str, Any]:
    """A group shaped like the API's answer with every block the dataset has."""
    values, count, total, average = group
    out: dict[str, Any] = {
        "dimensions": {f: format_dimension(f, v) for f, v in zip(dimensions, values, strict=False)},
        "count": count,
    }
    if spec.sum_metrics:
        out["sum"] = {spec.sum_metrics[0]: total}
    if spec.has_avg:
        out["avg"] = {"sampleInterval": average}
    return out


def exact_rows(
    config: StandinConfig,
    account: str,
    dataset: str,
    dimensions: list[str],
    start: datetime.date,
    end: datetime.date,
) -> list[dict[str, Any]]:
    """The truth: every group of `dimensions` in [start, end], ignoring retention and limits."""
    spec = DATASETS[dataset]
    groups = group_rows(spec, STORE.rows(config, account, spec, start, end), dimensions, None)
    sort_groups(groups, dimensions, [(field, False) for field in dimensions])
    return [group_to_dict(spec, dimensions, group) for group in groups]
