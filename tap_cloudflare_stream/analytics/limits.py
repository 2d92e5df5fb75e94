"""Each account's limits on the datasets a run reads: one settings query per account and run.

The tap owns one `AccountLimits` and hands it to every dataset stream, so that the first stream
of an account asks for every selected dataset at once and the others read the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tap_cloudflare_stream.analytics.datasets import Dataset
from tap_cloudflare_stream.analytics.decoding import DatasetLimits, decode_settings
from tap_cloudflare_stream.analytics.queries import settings_query
from tap_cloudflare_stream.cloudflare.answers import CloudflareResponseError, read_answer
from tap_cloudflare_stream.cloudflare.session import CloudflareSession


class AccountLimits:
    """The `settings` of each account (enabled, maxDuration, maxPageSize, ...), read once."""

    def __init__(
        self, session: CloudflareSession, url: str, selected: Callable[[], Sequence[Dataset]]
    ) -> None:
        self._session = session
        self._url = url
        self._selected = selected
        self._cache: dict[str, dict[str, DatasetLimits]] = {}

    def of(self, account: str, dataset: Dataset, logger: logging.Logger) -> DatasetLimits:
        """The dataset's limits for the account; the first call per account sends the query."""
        if account not in self._cache:
            payload = {
                "query": settings_query(self._selected()),
                "variables": {"accountTag": account},
            }
            where = f"account {account}, settings"
            self._cache[account] = self._session.call(
                self._url,
                payload,
                lambda response: read_answer(
                    response, decode_settings, where, self._session.permission
                ),
                where,
                logger,
            )
        limits = self._cache[account].get(dataset.node)
        if limits is None:
            msg = (
                f"Cloudflare sent no settings for {dataset.node} "
                f"(account {account}, stream {dataset.stream_name})"
            )
            raise CloudflareResponseError(msg)
        return limits
