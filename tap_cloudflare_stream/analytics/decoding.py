"""Typed, one-pass decoding of Analytics answers: a wrong shape fails loudly, never drops rows."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import msgspec

from tap_cloudflare_stream.analytics.datasets import BLOCKS, Dataset, JsonType
from tap_cloudflare_stream.cloudflare.answers import Answer, ErrorEntry
from tap_cloudflare_stream.cloudflare.columns import column_type

T = TypeVar("T")


def _decoded(name: JsonType) -> type:
    """What msgspec decodes a value of this column type into."""
    return column_type(name).python[0]


class DatasetLimits(msgspec.Struct, rename="camel"):
    """One dataset's entry under `settings`: what this account may ask for."""

    enabled: bool
    max_duration: int
    max_page_size: int
    max_number_of_fields: int
    not_older_than: int
    available_fields: list[str] = []


def _answer(body: Any, content_of: Callable[[Any], T]) -> Answer[T]:
    """Unwrap data.viewer.accounts[0]: its content, or why there is none."""
    errors = [e.message for e in body.errors or []]
    if body.data is None:
        return Answer(None, errors, data_present=False)
    accounts = body.data.viewer.accounts
    if not accounts:
        return Answer(None, errors, data_present=True)
    return Answer(content_of(accounts[0]), errors, data_present=True)


class DatasetPageDecoder:
    """Decodes pages of one dataset straight into typed structs, and structs into records."""

    def __init__(self, dataset: Dataset) -> None:
        name = dataset.type_prefix
        time = dataset.time_key.field
        dimensions = msgspec.defstruct(
            f"{name}Dimensions",
            [(time, str), *((d.field, _decoded(d.json_type)) for d in dataset.dimensions)],
        )
        group_fields: list[tuple[str, Any]] = [("dimensions", dimensions)]
        for metric in dataset.metrics:
            if metric.block is None:
                group_fields.append((metric.field, _decoded(metric.json_type)))
        for block in BLOCKS:
            fields = [(m.field, _decoded(m.json_type)) for m in dataset.metrics if m.block == block]
            if fields:
                group_fields.append((block, msgspec.defstruct(f"{name}{block.title()}", fields)))
        group: Any = msgspec.defstruct(name, group_fields)
        account: Any = msgspec.defstruct(f"{name}Account", [(dataset.node, list[group])])
        viewer: Any = msgspec.defstruct(f"{name}Viewer", [("accounts", list[account])])
        data: Any = msgspec.defstruct(f"{name}Data", [("viewer", viewer)])
        body: Any = msgspec.defstruct(
            f"{name}Body",
            [("data", data | None, None), ("errors", list[ErrorEntry] | None, None)],
        )
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(body)
        self._content_of: Callable[[Any], list[Any]] = operator.attrgetter(dataset.node)
        # One C-level call pulls a row's values in column order.
        paths = [f"dimensions.{time}", *(f"dimensions.{d.field}" for d in dataset.dimensions)]
        paths += [m.field if m.block is None else f"{m.block}.{m.field}" for m in dataset.metrics]
        self._values: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*paths)
        self._columns = (dataset.time_key.column, *(d.column for d in dataset.dimensions))
        self._columns += tuple(m.column for m in dataset.metrics)
        self._key: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(
            *(f"dimensions.{f}" for f in dataset.key_fields)
        )

    def decode(self, content: bytes) -> Answer[list[Any]]:
        """Decode a page; raises msgspec.DecodeError or msgspec.ValidationError on a bad one."""
        return _answer(self._decoder.decode(content), self._content_of)

    def seek_key(self, group: Any) -> tuple[Any, ...]:
        """The group's position in the total order the pages follow."""
        return self._key(group)

    def records(self, groups: list[Any], account_id: str) -> Iterator[dict[str, Any]]:
        """Flatten groups into records: account_id, time, dimension and metric columns."""
        columns, values = self._columns, self._values
        for group in groups:
            record = dict(zip(columns, values(group), strict=True))
            record["account_id"] = account_id
            yield record


class _SettingsAccount(msgspec.Struct):
    settings: dict[str, DatasetLimits] | None = None


class _SettingsViewer(msgspec.Struct):
    accounts: list[_SettingsAccount]


class _SettingsData(msgspec.Struct):
    viewer: _SettingsViewer


class _SettingsBody(msgspec.Struct):
    data: _SettingsData | None = None
    errors: list[ErrorEntry] | None = None


_settings_decoder = msgspec.json.Decoder(_SettingsBody)


def decode_settings(content: bytes) -> Answer[dict[str, DatasetLimits]]:
    """Decode a settings answer: the limits per dataset node."""
    return _answer(_settings_decoder.decode(content), lambda account: account.settings or {})
