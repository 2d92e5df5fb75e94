"""Typed, one-pass decoding of Cloudflare answers: a wrong shape fails loudly, never drops rows."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from tap_cloudflare_stream.datasets import Dataset

T = TypeVar("T")

_PY_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float}


class GraphQLError(msgspec.Struct):
    """One entry of the `errors` list; only the message matters to the tap."""

    message: str = ""


class _Envelope(msgspec.Struct):
    """The outer shape of any answer, read when the typed decode fails."""

    errors: list[GraphQLError] | None = None


class DatasetLimits(msgspec.Struct, rename="camel"):
    """One dataset's entry under `settings`: what this account may ask for."""

    enabled: bool
    max_duration: int
    max_page_size: int
    max_number_of_fields: int
    not_older_than: int
    available_fields: list[str] = []


@dataclass
class Answer(Generic[T]):
    """A decoded answer: its content (None without data or account), and its error messages."""

    content: T | None
    errors: list[str]
    data_present: bool


def error_messages(content: bytes) -> list[str] | None:
    """The GraphQL error messages of a JSON body, or None if it is not a JSON error envelope."""
    try:
        envelope = msgspec.json.decode(content, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return [e.message for e in envelope.errors or []]


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
        dimensions = msgspec.defstruct(
            f"{name}Dimensions",
            [("date", str), *((d.field, _PY_TYPES[d.json_type]) for d in dataset.dimensions)],
        )
        group_fields: list[tuple[str, Any]] = [("dimensions", dimensions)]
        for metric in dataset.metrics:
            if metric.block is None:
                group_fields.append((metric.field, _PY_TYPES[metric.json_type]))
        for block in ("sum", "avg"):
            fields = [
                (m.field, _PY_TYPES[m.json_type]) for m in dataset.metrics if m.block == block
            ]
            if fields:
                group_fields.append((block, msgspec.defstruct(f"{name}{block.title()}", fields)))
        group: Any = msgspec.defstruct(name, group_fields)
        account: Any = msgspec.defstruct(f"{name}Account", [(dataset.node, list[group])])
        viewer: Any = msgspec.defstruct(f"{name}Viewer", [("accounts", list[account])])
        data: Any = msgspec.defstruct(f"{name}Data", [("viewer", viewer)])
        body: Any = msgspec.defstruct(
            f"{name}Body",
            [("data", data | None, None), ("errors", list[GraphQLError] | None, None)],
        )
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(body)
        self._content_of: Callable[[Any], list[Any]] = operator.attrgetter(dataset.node)
        # One C-level call pulls a row's values in column order.
        paths = ["dimensions.date", *(f"dimensions.{d.field}" for d in dataset.dimensions)]
        paths += [m.field if m.block is None else f"{m.block}.{m.field}" for m in dataset.metrics]
        self._values: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*paths)
        self._columns = ("date", *(d.column for d in dataset.dimensions))
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
        """Flatten groups into records: account_id, date, dimension and metric columns."""
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
    errors: list[GraphQLError] | None = None


_settings_decoder = msgspec.json.Decoder(_SettingsBody)


def decode_settings(content: bytes) -> Answer[dict[str, DatasetLimits]]:
    """Decode a settings answer: the limits per dataset node."""
    return _answer(_settings_decoder.decode(content), lambda account: account.settings or {})
