"""The tap: the streams of every declared dataset, the run's shared parts, one-line CLI errors.

The tap builds one `RunParts` (settings, the `CloudflareAPI`, the accounts' `AccountLimits`) and
hands it to every stream it creates; no stream reaches back into the tap.
"""

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

from tap_cloudflare_stream.analytics.datasets import DATASETS, Dataset
from tap_cloudflare_stream.analytics.stream import DatasetStream
from tap_cloudflare_stream.cloudflare.answers import TapUserError
from tap_cloudflare_stream.cloudflare.session import CloudflareAPI, RetryPolicy
from tap_cloudflare_stream.records.output import TapOutput
from tap_cloudflare_stream.run import RunParts
from tap_cloudflare_stream.settings import CONFIG_SCHEMA, SettingsError, TapSettings

RESUME_HINT = "the state written so far lets the next run resume"


class TapCloudflareStream(TapOutput, Tap):
    """Singer tap for Cloudflare Stream analytics (GraphQL Analytics API)."""

    name = "tap-cloudflare-stream"
    config_jsonschema = CONFIG_SCHEMA

    @cached_property
    def parts(self) -> RunParts:
        """What the streams of this run share; each part is built on first use."""
        return RunParts(self.config, self._selected_datasets)

    @property
    def settings(self) -> TapSettings:
        """The validated settings."""
        return self.parts.settings

    @property
    def api(self) -> CloudflareAPI:
        """Credentials and request budgets, shared by every stream and account of this run."""
        return self.parts.api

    def _selected_datasets(self) -> list[Dataset]:
        return [
            s.dataset for s in self.streams.values() if isinstance(s, DatasetStream) and s.selected
        ]

    @override
    def discover_streams(self) -> list[DatasetStream]:
        return [DatasetStream(self, dataset, self.parts) for dataset in DATASETS]

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Our own checks run first: their messages name the setting and never echo a secret,
        # unlike a JSON-schema error, which prints the offending value.
        try:
            settings = self.settings
        except SettingsError as exc:
            if raise_errors:
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
            return [str(exc)]
        for warning in settings.warnings:
            self.logger.warning(warning)
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
            cls._fail(f"Gave up after {RetryPolicy.MAX_TRIES} attempts: {exc} ({RESUME_HINT})")
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
