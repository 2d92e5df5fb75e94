"""Command line: serve a stand-in until SIGTERM or SIGINT; the first stdout line is the URL.

The URL is the GraphQL endpoint; the REST endpoints share its base (`.../client/v4/accounts/...`)
and the catalog test hooks are `POST /__standin/delete-video`, `/__standin/rename-video`,
`/__standin/delete-live-input` and `/__standin/change-live-input`.
"""

from __future__ import annotations

import argparse
import datetime
import signal
import sys
import threading
from types import FrameType

from .config import HOURLY_DATASET_NAMES, HourlySettings, StandinConfig
from .server import StandinServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cloudflare_standin",
        description="Local stand-in of Cloudflare's GraphQL Analytics API (Stream datasets) "
        "and Stream's REST catalog.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--accounts", required=True, help="comma-separated account tags")
    parser.add_argument("--token", action="append", default=[], help="accepted API token")
    parser.add_argument(
        "--analytics-only-token",
        action="append",
        default=[],
        help="accepted API token without Stream: Read (REST answers 403)",
    )
    parser.add_argument("--api-email", help="email of an accepted global API key")
    parser.add_argument("--api-key", help="accepted global API key")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", type=datetime.date.fromisoformat, help="YYYY-MM-DD (UTC)")
    parser.add_argument("--history-days", type=int, default=100)
    parser.add_argument("--rows-per-day", type=int, default=300)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--revision", type=int, default=0)
    parser.add_argument("--max-page-size", type=int, default=10000)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--rate-limit-queries", type=int, default=300)
    parser.add_argument("--rate-limit-window", type=float, default=300.0)
    parser.add_argument("--rate-limit-lockout", type=float, default=300.0)
    parser.add_argument("--rate-limit-mode", choices=("429", "200"), default="429")
    parser.add_argument("--rate-limit-retry-after", action="store_true")
    parser.add_argument("--catalog-unwatched", type=int, default=3,
                        help="library videos without analytics, per account")  # fmt: skip
    parser.add_argument("--catalog-gone", type=int, default=2,
                        help="analytics videos missing from the library, per account")  # fmt: skip
    parser.add_argument("--video-bounds", choices=("exclusive", "inclusive"), default="exclusive",
                        help="how List videos compares start/after and end/before")  # fmt: skip
    parser.add_argument("--video-created-precision", choices=("seconds", "microseconds"),
                        default="seconds")  # fmt: skip
    parser.add_argument("--live-inputs", type=int, default=2, help="live inputs per account")
    parser.add_argument("--rest-rate-limit-requests", type=int, default=1200)
    parser.add_argument("--log-file", help="append the request log here as JSON lines")
    parser.add_argument(
        "--now", type=_utc_time, help="fixed 'now' for the hourly datasets (YYYY-MM-DDTHH:MM:SSZ)"
    )
    hourly = HourlySettings()
    for flag, default in (
        ("max-duration", hourly.max_duration),
        ("not-older-than", hourly.not_older_than),
        ("max-page-size", hourly.max_page_size),
        ("max-fields", hourly.max_number_of_fields),
    ):
        parser.add_argument(
            f"--hourly-{flag}", type=int, default=default,
            help=f"settings of both hourly datasets (default {default})",
        )  # fmt: skip
    parser.add_argument(
        "--hourly-disabled", action="append", default=[], choices=HOURLY_DATASET_NAMES,
        help="an hourly dataset every account has enabled: false for (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--hourly-late-seconds", type=int, default=0,
        help="late-arriving hourly events: some reach the server up to this long after they "
        "happened, so an hour grows after it ended (default 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--retire-dataset", action="append", default=[], metavar="NODE",
        help="a dataset node Cloudflare no longer knows, gone from account and settings "
        "(repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--retire-field", action="append", default=[], metavar="NODE:FIELD",
        help="a field a dataset no longer has, as availableFields names it, e.g. "
        "videoPlaybackEventsAdaptiveGroups:dimensions.deviceBrowser (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--retire-settings-field", action="append", default=[], metavar="FIELD",
        help="a field gone from every dataset's settings, e.g. availableFields (repeatable)",
    )  # fmt: skip
    return parser


def _utc_time(text: str) -> datetime.datetime:
    """An RFC 3339 UTC time from the command line."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def config_from_args(args: argparse.Namespace) -> StandinConfig:
    """A StandinConfig from parsed command-line arguments."""
    accounts = [tag.strip() for tag in args.accounts.split(",") if tag.strip()]
    config = StandinConfig(
        accounts=accounts,
        seed=args.seed,
        today=args.today,
        history_days=args.history_days,
        rows_per_day=args.rows_per_day,
        videos=args.videos,
        revision=args.revision,
        tokens=dict.fromkeys([*args.token, *args.analytics_only_token]),
        analytics_only_tokens=set(args.analytics_only_token),
        catalog_unwatched=args.catalog_unwatched,
        catalog_gone=args.catalog_gone,
        video_bounds=args.video_bounds,
        video_created_precision=args.video_created_precision,
        live_inputs=args.live_inputs,
        rest_rate_limit_requests=None if args.no_rate_limit else args.rest_rate_limit_requests,
        max_page_size=args.max_page_size,
        rate_limit_queries=None if args.no_rate_limit else args.rate_limit_queries,
        rate_limit_window=args.rate_limit_window,
        rate_limit_lockout=args.rate_limit_lockout,
        rate_limit_mode=args.rate_limit_mode,
        rate_limit_retry_after=args.rate_limit_retry_after,
    )
    config.now = args.now
    config.hourly_late_seconds = args.hourly_late_seconds
    config.retired_datasets = set(args.retire_dataset)
    config.retired_settings_fields = set(args.retire_settings_field)
    for spec in args.retire_field:
        node, _, field = spec.partition(":")
        if not field:
            raise SystemExit(f"--retire-field {spec!r}: expected NODE:FIELD")
        config.retired_fields.setdefault(node, []).append(field)
    for name, settings in config.hourly.items():
        settings.enabled = name not in args.hourly_disabled
        settings.max_duration = args.hourly_max_duration
        settings.not_older_than = args.hourly_not_older_than
        settings.max_page_size = args.hourly_max_page_size
        settings.max_number_of_fields = args.hourly_max_fields
    if args.api_email or args.api_key:
        if not (args.api_email and args.api_key):
            raise SystemExit("--api-email and --api-key go together")
        config.api_keys = {(args.api_email, args.api_key): None}
    return config


def main(argv: list[str] | None = None) -> int:
    """Run the server until a signal; exit 0."""
    args = _parser().parse_args(argv)
    config = config_from_args(args)
    if not config.tokens and not config.api_keys:
        print("warning: no --token or --api-key given; every request will be refused",
              file=sys.stderr)  # fmt: skip
    server = StandinServer(config, host=args.host, port=args.port, log_path=args.log_file)
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    url = server.start()
    print(url, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
