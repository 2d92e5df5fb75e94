"""Each account's limits on the datasets a run reads: one settings query per account and run.

The tap owns one `AccountLimits` and hands it to every dataset stream, so that the first stream
of an account asks for every selected dataset at once and the others read the answer. A dataset
Cloudflare has retired fails that query with a validation error naming it: it is marked retired
(`SchemaChanges`) and the query is asked again without it, so one retired dataset never costs
the others their settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tap_cloudflare_stream.analytics.datasets import Dataset
from tap_cloudflare_stream.analytics.decoding import DatasetLimits, decode_settings
from tap_cloudflare_stream.analytics.queries import settings_query
from tap_cloudflare_stream.analytics.schema_changes import SchemaChanges, names_in
from tap_cloudflare_stream.cloudflare.answers import (
    CloudflareQueryError,
    CloudflareResponseError,
    read_answer,
)
from tap_cloudflare_stream.cloudflare.session import CloudflareSession


class AccountLimits:
    """The `settings` of each account (enabled, maxDuration, maxPageSize, ...), read once."""

    def __init__(
        self,
        session: CloudflareSession,
        url: str,
        selected: Callable[[], Sequence[Dataset]],
        changes: SchemaChanges,
    ) -> None:
        self._session = session
        self._url = url
        self._selected = selected
        self._changes = changes
        self._cache: dict[str, dict[str, DatasetLimits]] = {}

    def of(self, account: str, dataset: Dataset, logger: logging.Logger) -> DatasetLimits | None:
        """The dataset's limits for the account, or None if Cloudflare retired the dataset.

        The first call per account sends the query.
        """
        if account not in self._cache and not self._changes.retired(dataset):
            self._cache[account] = self._read(account, logger)
        if self._changes.retired(dataset):
            return None
        limits = self._cache[account].get(dataset.node)
        if limits is None:
            msg = (
                f"Cloudflare sent no settings for {dataset.node} "
                f"(account {account}, stream {dataset.stream_name})"
            )
            raise CloudflareResponseError(msg)
        return limits

    def _read(self, account: str, logger: logging.Logger) -> dict[str, DatasetLimits]:
        """The settings of every selected dataset not retired; drops those Cloudflare says are."""
        asked = [d for d in self._selected() if not self._changes.retired(d)]
        where = f"account {account}, settings"
        while asked:
            payload = {"query": settings_query(asked), "variables": {"accountTag": account}}
            try:
                return self._session.call(
                    self._url,
                    payload,
                    lambda response: read_answer(
                        response, decode_settings, where, self._session.permission
                    ),
                    where,
                    logger,
                )
            except CloudflareQueryError as exc:
                named = names_in(exc.messages)
                retired = [d for d in asked if d.node in named]
                if not retired:
                    raise
                for dataset in retired:
                    self._changes.retire(dataset, logger)
                # Each round drops at least one dataset: this ends.
                asked = [d for d in asked if d not in retired]
        return {}
