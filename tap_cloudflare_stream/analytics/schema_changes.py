"""When Cloudflare retires a dataset or a field: which one, from its answer, and what then.

A query that names a dataset node or a field Cloudflare's schema no longer has is refused with
a GraphQL validation error that quotes the name ("Cannot query field 'deviceBrowser' on type
'AccountVideoPlaybackEventsAdaptiveGroupsDimensions'."; Cloudflare's documented wording is
`unknown field "..."`). A retired dataset is skipped like a disabled one, with one warning for
the run; a missing field fails its stream only, every other stream syncs, and the run ends with
one error. An answer that names nothing the tap declares is not a schema change: its error
stands. Validation errors are never retried (answers.classify makes them fatal).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tap_cloudflare_stream.analytics.datasets import Dataset
from tap_cloudflare_stream.cloudflare.answers import CloudflareQueryError, TapUserError

# A name in quotes, as GraphQL servers quote fields, types and enum values.
_QUOTED = re.compile(r"""["'\u2018\u201c]([A-Za-z_][\w.]*)["'\u2019\u201d]""")
# What a filter field or an orderBy value adds to a field's name (uid_gt, sum_minutesViewed_ASC).
_SUFFIX = re.compile(r"_(ASC|DESC|geq|gt|leq|lt|neq|notin|in|notlike|like)$")
_SUGGESTIONS = re.compile(r"did you mean", re.IGNORECASE)


def names_in(messages: Iterable[str]) -> set[str]:
    """The names the messages quote, without graphql's suggestions ("Did you mean ...").

    A filter field or orderBy value counts as its field: `deviceBrowser_gt` and
    `deviceBrowser_ASC` as `deviceBrowser`, `sum_minutesViewed_DESC` as `sum.minutesViewed`.
    """
    names: set[str] = set()
    for message in messages:
        stated = _SUGGESTIONS.split(message, maxsplit=1)[0]
        for token in _QUOTED.findall(stated):
            base = _SUFFIX.sub("", token)
            if base != token and base.startswith(("sum_", "avg_", "uniq_", "quantiles_")):
                base = base.replace("_", ".", 1)
            names.update((token, base))
    return names


def missing_fields(dataset: Dataset, names: set[str]) -> list[str]:
    """The fields of the dataset's query that `names` names, as availableFields names them."""
    declared = [f"dimensions.{field}" for field in dataset.key_fields]
    declared += [m.field if m.block is None else f"{m.block}.{m.field}" for m in dataset.metrics]
    blocks = {m.block for m in dataset.metrics if m.block is not None} | {"dimensions"}
    leaves = {name.rpartition(".")[2] for name in names}
    missing = [path for path in declared if path in names or path.rpartition(".")[2] in leaves]
    return missing + sorted(block for block in blocks if block in names)


@dataclass(frozen=True)
class MissingFields:
    """A stream that could not be read: the fields of its dataset Cloudflare no longer knows."""

    dataset: Dataset
    fields: tuple[str, ...]
    account: str

    def __str__(self) -> str:
        fields = ", ".join(self.fields)
        return (
            f"Cloudflare no longer knows {fields} of {self.dataset.node} (stream "
            f"{self.dataset.stream_name}, first refused for account {self.account}): upgrade "
            f"tap-cloudflare-stream, or deselect stream {self.dataset.stream_name}"
        )


class CloudflareSchemaError(TapUserError):
    """Streams whose declared fields Cloudflare no longer knows; every other stream synced."""


class SchemaChanges:
    """The run's record of retired datasets (skipped) and streams missing fields (failed)."""

    def __init__(self) -> None:
        self._retired: set[str] = set()
        self._failed: dict[str, MissingFields] = {}

    def retired(self, dataset: Dataset) -> bool:
        """Whether Cloudflare has retired the dataset (it is skipped for every account)."""
        return dataset.node in self._retired

    def skips(self, dataset: Dataset) -> bool:
        """Whether the dataset's stream is not read any more this run: retired, or failed."""
        return dataset.node in self._retired or dataset.node in self._failed

    def retire(self, dataset: Dataset, logger: logging.Logger) -> None:
        """Skip the dataset from now on, with one warning for the run."""
        if dataset.node in self._retired:
            return
        self._retired.add(dataset.node)
        # The tap's logger, not the stream's that happened to ask: the warning is the run's.
        logging.getLogger(logger.name.split(".", 1)[0]).warning(
            "Cloudflare no longer knows dataset %s: stream %s is skipped for every account, and "
            "its state is left as it was. Deselect it to stop this warning (Meltano: meltano "
            "select tap-cloudflare-stream --exclude %s '*'; a catalog: \"selected\": false).",
            dataset.node,
            dataset.stream_name,
            dataset.stream_name,
        )

    def absorb(
        self, dataset: Dataset, account: str, error: CloudflareQueryError, logger: logging.Logger
    ) -> bool:
        """Whether `error` is Cloudflare retiring the dataset or fields it declares (handled)."""
        names = names_in(error.messages)
        if dataset.node in names:
            self.retire(dataset, logger)
            return True
        fields = missing_fields(dataset, names)
        if not fields:
            return False
        failure = MissingFields(dataset, tuple(fields), account)
        self._failed[dataset.node] = failure
        logger.warning("%s; the other streams go on, and the run will end with an error.", failure)
        return True

    def raise_if_failed(self) -> None:
        """At the end of the run: one error naming every stream that could not be read."""
        if self._failed:
            failures = "; ".join(str(failure) for failure in self._failed.values())
            msg = f"{failures}. Every other stream was read and its state saved"
            raise CloudflareSchemaError(msg)
