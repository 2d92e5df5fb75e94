"""The tap: the streams of every declared dataset, the run's shared parts, one-line CLI errors.

The tap builds one `RunParts` (settings, the `CloudflareAPI`, the accounts' `AccountLimits`) and
hands it to every stream it creates; no stream reaches back into the tap.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import click
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
from tap_cloudflare_stream.catalog.listings import ListingsStream
from tap_cloudflare_stream.catalog.resources import RESOURCES
from tap_cloudflare_stream.catalog.stream import CatalogStream
from tap_cloudflare_stream.cloudflare.answers import TapUserError
from tap_cloudflare_stream.cloudflare.session import CloudflareAPI, RetryPolicy
from tap_cloudflare_stream.records.output import TapOutput
from tap_cloudflare_stream.run import RunParts
from tap_cloudflare_stream.settings import CONFIG_SCHEMA, SettingsError, TapSettings

if TYPE_CHECKING:
    from tap_cloudflare_stream.sdk_seam import ConfigInput

RESUME_HINT = "the state written so far lets the next run resume"


class TapCloudflareStream(TapOutput, Tap):
    """Singer tap for Cloudflare Stream: analytics (GraphQL) and the video catalog (REST)."""

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
    def discover_streams(self) -> list[DatasetStream | CatalogStream | ListingsStream]:
        streams: list[DatasetStream | CatalogStream | ListingsStream] = [
            DatasetStream(self, dataset, self.parts) for dataset in DATASETS
        ]
        listings = ListingsStream(self)  # the catalog streams write their listings to it
        streams += [CatalogStream(self, resource, self.parts, listings) for resource in RESOURCES]
        return [*streams, listings]

    @override
    def settings_errors(self) -> list[str]:
        # Our own checks run first: their messages name the setting and never echo a secret,
        # unlike a JSON-schema error, which prints the offending value.
        try:
            settings = self.settings
        except SettingsError as exc:
            return [str(exc)]
        for warning in settings.warnings:
            self.logger.warning(warning)
        return []

    @override
    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        with cls._one_error_line():
            super().invoke(*args, **kwargs)

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        # singer-sdk's connection test (--test) syncs a record of every stream: it fails like
        # a run, with one ERROR line and exit 1.
        with cls._one_error_line():
            super().cb_test(ctx, param, value)

    @override
    @classmethod
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> ConfigInput:
        # Reads the --config files: a missing or broken file is one line too.
        with cls._one_error_line():
            return super().cb_config(ctx, param, value)

    @override
    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        with cls._one_error_line():
            super().cb_discover(ctx, param, value)

    @classmethod
    @contextlib.contextmanager
    def _one_error_line(cls) -> Iterator[None]:
        """Turn any exception into one ERROR line and exit 1; click's own exits pass through."""
        try:
            yield
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own exits and usage errors
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
        except Exception as exc:  # anything else is still one line, without a traceback
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            cls._fail(
                f"{type(exc).__name__}: {first} (unexpected: check the files given to --config, "
                f"--state and --catalog, else please report it; {RESUME_HINT})"
            )

    @classmethod
    def _fail(cls, message: str) -> NoReturn:
        cls.logger.error(message)
        sys.exit(1)


if __name__ == "__main__":
    TapCloudflareStream.cli()
