"""GraphQL documents and variables sent to Cloudflare, built from the dataset declarations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tap_cloudflare_stream.analytics.datasets import BLOCKS, Dataset
from tap_cloudflare_stream.analytics.windows import Window

SETTINGS_FIELDS = "enabled maxDuration maxPageSize maxNumberOfFields notOlderThan availableFields"

SeekKey = tuple[Any, ...]


def dataset_query(dataset: Dataset) -> str:
    """Return the query for one page of a dataset; every value travels as a variable."""
    prefix = dataset.type_prefix
    metrics = " ".join(m.field for m in dataset.metrics if m.block is None)
    for block in BLOCKS:
        fields = " ".join(m.field for m in dataset.metrics if m.block == block)
        if fields:
            metrics += f" {block} {{ {fields} }}"
    dimensions = " ".join(dataset.key_fields)
    return (
        f"query CloudflareStream($accountTag: string!, $filter: {prefix}Filter_InputObject!, "
        f"$limit: uint64!, $orderBy: [{prefix}OrderBy!]) {{ "
        "viewer { accounts(filter: {accountTag: $accountTag}) { "
        f"{dataset.node}(filter: $filter, limit: $limit, orderBy: $orderBy) {{ "
        f"{metrics} dimensions {{ {dimensions} }} }} }} }} }}"
    )


def settings_query(datasets: Sequence[Dataset]) -> str:
    """Return the query for the account's limits on the given datasets, in one request."""
    nodes = " ".join(f"{d.node} {{ {SETTINGS_FIELDS} }}" for d in datasets)
    return (
        "query CloudflareStreamSettings($accountTag: string!) { "
        "viewer { accounts(filter: {accountTag: $accountTag}) { "
        f"settings {{ {nodes} }} }} }} }}"
    )


def order_by(dataset: Dataset) -> list[str]:
    """Order by the whole seek key, so the order is total and pages never overlap."""
    return [f"{field}_ASC" for field in dataset.key_fields]


def page_filter(
    dataset: Dataset,
    window: Window,
    after: SeekKey | None,
) -> dict[str, Any]:
    """Filter for one page: the window's days or hours, and rows strictly after the last row's key.

    `uid_gt` alone would skip the rest of a video's rows when a page ends inside them, so the
    seek compares the whole key: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...
    """
    bounds: dict[str, Any] = dataset.time_key.bounds(window.start, window.end)
    if after is None:
        return bounds
    fields = dataset.key_fields
    branches = []
    for i, field in enumerate(fields):
        branch = dict(zip(fields[:i], after[:i], strict=True))
        branch[f"{field}_gt"] = after[i]
        branches.append(branch)
    bounds["OR"] = branches
    return bounds
