"""Event-level synthetic data of the hour-grained datasets (streamCMCD, liveInputEvents).

An hour's events come from `random.Random(f"{seed}:{account}:{dataset}:{hour}")` alone, so an
hour never depends on other hours, on `history_days` or on when it is read. Every hour is
generated whole and cached; reads cut it at the server's "now", so the current hour is
incomplete and grows as the clock moves. With `hourly_late_seconds`, a share of the events
(`hourly_late_fraction`) reaches the server up to that long after it happened: an hour keeps
growing after it ended, until then. An event is a tuple laid out as the dataset's
`COLUMNS`; column "datetime" is the event's epoch second.
"""

from __future__ import annotations

import datetime
import random
import threading
from bisect import bisect_left
from collections import OrderedDict
from typing import Any

from .config import StandinConfig
from .data import account_videos, live_input_uids

CMCD = "streamCMCDAdaptiveGroups"
LIVE = "liveInputEventsAdaptiveGroups"
Event = tuple[object, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    CMCD: (
        "datetime", "videoId", "country", "streamType", "streamingFormat", "sessionId", "viewer",
        "millisecondsViewed", "bufferLength", "bufferStarvationDuration", "encodedBitrate",
        "initialBufferStarvationDuration", "measuredThroughput",
    ),
    LIVE: (
        "datetime", "inputId", "eventCode", "bitRate", "gopByteSize", "gopDuration",
        "gopUploadTime", "uploadDurationRatio",
    ),
}  # fmt: skip

# Countries with repeats as weights; "" and XX as Cloudflare sends them.
_CMCD_COUNTRIES = ("US",) * 6 + ("GB",) * 3 + ("DE", "DE", "FR", "IN", "BR", "JP", "", "XX")
_LADDER_KBPS = (400, 800, 1500, 3000, 6000)
_STEPS = (2, 4, 6)  # seconds between a session's CMCD requests (segment length)
_GOPS = (4.0, 6.0, 6.0, 8.0)  # an input-hour's usual GOP; 3% of segments are twice as long
_INPUT_BITRATES = (2_500_000, 4_500_000, 8_000_000)  # bits per second
_HOUR = 3600
_MAX_CACHED_HOURS = 20_000


def stream_type(video_id: str) -> str:
    """A video's streamType: `l` (a live recording) for about a quarter of uids, else `v`."""
    return "l" if int(video_id[:2], 16) % 4 == 0 else "v"


def event_code(gop_duration: float, usual_gop: float, ratio: float) -> str:
    """A segment's eventCode, from its values: slow_upload, long_gop or ok."""
    if ratio > 1.0:
        return "slow_upload"
    return "long_gop" if gop_duration > usual_gop else "ok"


def _hour_factor(hour_start: int) -> float:
    hour = hour_start // _HOUR % 24
    return 0.5 if hour < 7 else 1.0 if hour < 18 else 1.5


def _cmcd_hour(
    config: StandinConfig, account: str, hour_start: int, rng: random.Random
) -> list[Event]:
    videos = account_videos(config.seed, account, config.videos)
    indexes = range(len(videos.uids))
    sessions = 0
    if rng.random() >= 0.03:  # about 3% of hours are quiet
        mean = config.cmcd_sessions_per_hour * _hour_factor(hour_start)
        sessions = max(0, round(mean * rng.uniform(0.6, 1.4)))
    events: list[Event] = []
    end = hour_start + _HOUR
    for _ in range(sessions):
        uid = videos.uids[rng.choices(indexes, videos.weights)[0]]
        kind = stream_type(uid)
        fmt = "h" if rng.random() < 0.7 else "d"
        country = rng.choice(_CMCD_COUNTRIES)
        viewer = rng.randrange(config.cmcd_viewers)
        session = f"{rng.getrandbits(64):016x}"
        step = rng.choice(_STEPS)
        moment = hour_start + rng.randrange(_HOUR)
        requests = min(40, int(rng.paretovariate(1.3)))
        for number in range(requests):
            if moment >= end:
                break
            viewed = 0 if rng.random() < 0.05 else step * 1000
            starvation = 0 if rng.random() < 0.88 else rng.randrange(50, 5000)
            initial = 0
            if number == 0 and rng.random() < 0.4:
                initial = rng.randrange(100, 8000)
            events.append(
                (moment, uid, country, kind, fmt, session, viewer, viewed,
                 rng.randrange(0, 30000), starvation, rng.choice(_LADDER_KBPS), initial,
                 rng.randrange(800, 60000))
            )  # fmt: skip
            moment += step
    events.sort(key=lambda event: event[0])  # type: ignore[arg-type, return-value]
    return events


def _live_hour(
    config: StandinConfig, account: str, hour_start: int, rng: random.Random
) -> list[Event]:
    events: list[Event] = []
    for input_id in live_input_uids(config.seed, account, config.live_inputs):
        if rng.random() >= 0.5:
            continue  # off air this hour
        on, off = hour_start, hour_start + _HOUR
        if rng.random() >= 0.7:  # goes live or stops within the hour
            a, b = sorted(rng.randrange(_HOUR) for _ in range(2))
            on, off = hour_start + a, hour_start + b + 1
        base = rng.choice(_INPUT_BITRATES)
        usual_gop = rng.choice(_GOPS)
        moment = float(on)
        while moment < off:  # segments back to back, each one GOP long
            gop = usual_gop * 2 if rng.random() < 0.03 else usual_gop
            size = float(round(base * gop / 8 * rng.uniform(0.8, 1.2)))
            slow = rng.random() < 0.05
            upload = round(gop * (rng.uniform(1.05, 1.6) if slow else rng.uniform(0.1, 0.9)), 3)
            ratio = upload / gop
            code = event_code(gop, usual_gop, ratio)
            events.append((int(moment), input_id, code, size * 8 / gop, size, gop, upload, ratio))
            moment += gop
    events.sort(key=lambda event: event[0])  # type: ignore[arg-type, return-value]
    return events


_GENERATORS = {CMCD: _cmcd_hour, LIVE: _live_hour}


class EventStore:
    """An LRU cache of generated hours, shared by every server and by the truth helpers."""

    def __init__(self, max_hours: int = _MAX_CACHED_HOURS) -> None:
        self._hours: OrderedDict[tuple[object, ...], tuple[list[int], list[Event]]] = OrderedDict()
        self._max_hours = max_hours
        self._lock = threading.Lock()

    def hour(
        self, config: StandinConfig, account: str, dataset: str, hour_start: int
    ) -> tuple[list[int], list[Event]]:
        """The whole hour's events (and their seconds), ignoring "now"."""
        volumes = (config.videos, config.cmcd_sessions_per_hour, config.cmcd_viewers,
                   config.live_inputs)  # fmt: skip
        key = (config.seed, account, dataset, hour_start, volumes)
        with self._lock:
            cached = self._hours.get(key)
            if cached is not None:
                self._hours.move_to_end(key)
                return cached
        moment = datetime.datetime.fromtimestamp(hour_start, datetime.timezone.utc)
        rng = random.Random(f"{config.seed}:{account}:{dataset}:{moment:%Y-%m-%dT%H}")
        events = _GENERATORS[dataset](config, account, hour_start, rng)
        data = ([int(event[0]) for event in events], events)  # type: ignore[call-overload]
        with self._lock:
            self._hours[key] = data
            while len(self._hours) > self._max_hours:
                self._hours.popitem(last=False)
        return data

    def events(
        self, config: StandinConfig, account: str, dataset: str, start: int, end: int
    ) -> list[Event]:
        """Events with start <= second < end that happened before "now", in time order."""
        settings = config.hourly[dataset]
        if account in settings.no_data_accounts:
            return []
        first = (config.first_data_day() - datetime.date(1970, 1, 1)).days * 86400
        end = min(end, config.current_time())
        start = max(start, first)
        now = config.current_time()
        late = config.hourly_late_seconds
        out: list[Event] = []
        hour_start = start - start % _HOUR
        while hour_start < end:
            seconds, events = self.hour(config, account, dataset, hour_start)
            low, high = bisect_left(seconds, start), bisect_left(seconds, end)
            if late > 0 and hour_start + _HOUR + late > now:
                # Some of this hour's events may not have reached Cloudflare yet.
                arrivals = _arrivals(config, account, dataset, hour_start, seconds)
                out.extend(events[i] for i in range(low, high) if arrivals[i] < now)
            else:
                out.extend(events[low:high])
            hour_start += _HOUR
        return out


def _arrivals(
    config: StandinConfig, account: str, dataset: str, hour_start: int, seconds: list[int]
) -> list[int]:
    """When each event of the hour reaches Cloudflare: at once, or (late_fraction of them) up to
    hourly_late_seconds later; seeded by the hour alone, so every read agrees."""
    moment = datetime.datetime.fromtimestamp(hour_start, datetime.timezone.utc)
    rng = random.Random(f"{config.seed}:{account}:{dataset}:{moment:%Y-%m-%dT%H}:late")
    late, fraction = config.hourly_late_seconds, config.hourly_late_fraction
    return [
        second + (rng.randrange(1, late + 1) if rng.random() < fraction else 0)
        for second in seconds
    ]


def column_index(dataset: str, column: str) -> int:
    """Position of a column in the dataset's event tuples."""
    return COLUMNS[dataset].index(column)


EVENTS = EventStore()


def hourly_events(
    config: StandinConfig, account: str, dataset: str, start: datetime.datetime,
    end: datetime.datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """Raw events in [start, end) before "now" as column -> value dicts (for references)."""
    names = COLUMNS[dataset]
    low, high = (int(_aware(moment).timestamp()) for moment in (start, end))
    return [
        dict(zip(names, event, strict=True))
        for event in EVENTS.events(config, account, dataset, low, high)
    ]


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)
