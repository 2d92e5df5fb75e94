"""The tap: settings, the streams of every declared dataset, and a one-line CLI for errors."""

from __future__ import annotations

import sys
from functools import cached_property
from typing import Any

import requests
from singer_sdk import Tap
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidStreamSortException,
    RetriableAPIError,
)
from typing_extensions import override

from tap_cloudflare_stream.datasets import DATASETS
from tap_cloudflare_stream.errors import TapUserError
from tap_cloudflare_stream.ratelimit import RequestBudget
from tap_cloudflare_stream.responses import DatasetLimits
from tap_cloudflare_stream.settings import CONFIG_SCHEMA, SettingsError, TapSettings, parse_settings
from tap_cloudflare_stream.streams import DatasetStream
from tap_cloudflare_stream.windows import utc_today
from tap_cloudflare_stream.writer import RecordBufferingWriter

RESUME_HINT = "the state written so far lets the next run resume"


class TapCloudflareStream(Tap):
    """Singer tap for Cloudflare Stream analytics (GraphQL Analytics API)."""

    name = "tap-cloudflare-stream"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = RecordBufferingWriter  # msgspec, no flush per RECORD

    @cached_property
    def settings(self) -> TapSettings:
        """The validated settings."""
        return parse_settings(self.config, utc_today())

    @cached_property
    def budget(self) -> RequestBudget:
        """Requests per 5 minutes, shared by every stream and account of this run."""
        return RequestBudget(self.settings.requests_per_5_minutes)

    @cached_property
    def limits_cache(self) -> dict[str, dict[str, DatasetLimits]]:
        """Each account's dataset settings, read once per run."""
        return {}

    @property
    def dataset_streams(self) -> list[DatasetStream]:
        """The dataset streams of this run."""
        return [s for s in self.streams.values() if isinstance(s, DatasetStream)]

    @override
    def discover_streams(self) -> list[DatasetStream]:
        return [DatasetStream(self, dataset) for dataset in DATASETS]

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Our own checks run first: their messages name the setting and never echo a secret,
        # unlike a JSON-schema error, which prints the offending value.
        try:
            _ = self.settings
        except SettingsError as exc:
            if raise_errors:
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
            return [str(exc)]
        return super()._validate_config(raise_errors=raise_errors)

    @override
    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        try:
            super().invoke(*args, **kwargs)
        except ConfigValidationError as exc:
            cls._fail(f"Invalid configuration: {'; '.join(exc.errors) or exc}")
        except TapUserError as exc:
            cls._fail(f"{exc} ({RESUME_HINT})")
        except RetriableAPIError as exc:
            cls._fail(f"Gave up after {DatasetStream.MAX_TRIES} attempts: {exc} ({RESUME_HINT})")
        except requests.RequestException as exc:
            cls._fail(
                f"Could not reach the API ({type(exc).__name__}): check api_url and the network "
                f"({RESUME_HINT})"
            )
        except InvalidStreamSortException as exc:
            cls._fail(f"Rows came out of date order, please report it: {exc} ({RESUME_HINT})")

    @classmethod
    def _fail(cls, message: str) -> None:
        cls.logger.error(message)
        sys.exit(1)


if __name__ == "__main__":
    TapCloudflareStream.cli()
