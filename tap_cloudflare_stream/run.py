"""The parts a run's streams share, built once by the tap and on first use (discovery needs none).

Streams receive this object in their constructor and take from it what they need: the settings,
their family's session of the `CloudflareAPI`, the accounts' `AccountLimits`, and the run's
`RunAudit`, where they count what they write.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

from tap_cloudflare_stream.analytics.datasets import Dataset
from tap_cloudflare_stream.analytics.limits import AccountLimits
from tap_cloudflare_stream.analytics.schema_changes import SchemaChanges
from tap_cloudflare_stream.analytics.windows import utc_now
from tap_cloudflare_stream.audit.tally import RunAudit
from tap_cloudflare_stream.cloudflare.session import CloudflareAPI
from tap_cloudflare_stream.settings import TapSettings, parse_settings


class RunParts:
    """Settings, the API sessions, the accounts' limits, schema changes and audit of one run."""

    def __init__(
        self, config: Mapping[str, Any], selected_datasets: Callable[[], Sequence[Dataset]]
    ) -> None:
        self._config = config
        self._selected_datasets = selected_datasets
        # The run's clock (UTC, aware): "today", the retention floor and the current hour.
        self.clock: Callable[[], datetime.datetime] = utc_now
        # What the run writes, counted by the streams; its start from the wall clock (as the
        # records' time_extracted), never the clock above, which tests set.
        self.audit = RunAudit()
        # Datasets Cloudflare retired (skipped) and streams missing fields (failed at the end).
        self.schema_changes = SchemaChanges()

    @cached_property
    def settings(self) -> TapSettings:
        """The validated settings; raises SettingsError with a one-line message."""
        return parse_settings(self._config, self.clock().date())

    @cached_property
    def api(self) -> CloudflareAPI:
        """Credentials and request budgets, shared by every stream and account of the run."""
        settings = self.settings
        return CloudflareAPI(
            settings.auth_headers,
            settings.requests_per_5_minutes,
            account_based=settings.account_based_rate_limit,
        )

    @cached_property
    def account_limits(self) -> AccountLimits:
        """Each account's dataset settings, read once per run for the selected datasets."""
        return AccountLimits(
            self.api.graphql, self.settings.api_url, self._selected_datasets, self.schema_changes
        )
