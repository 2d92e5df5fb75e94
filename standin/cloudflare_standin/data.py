"""Deterministic synthetic Stream analytics: finest-grain rows per account, dataset and day.

A day's rows come from a random generator seeded only by (seed, account, dataset, day), so a
day never depends on other days, on `history_days` or on when it was generated. Rows are
stored packed: the finest key (without the date) is one integer built in mixed radix from
the indexes of its values in sorted value domains, so integer order is the API's order and a
seek position is one bisect. Metrics sit in parallel arrays (about 40 bytes a row).
"""

from __future__ import annotations

import datetime
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .config import StandinConfig
from .datasets import (
    COUNTRIES,
    DEVICE_BROWSERS,
    DEVICE_OSES,
    DEVICE_TYPES,
    MEDIA_TYPES,
    QUALITY_RESOLUTIONS,
    DatasetSpec,
)

CREATORS: tuple[str, ...] = ("", *(f"creator-{n:02d}" for n in range(1, 13)))
SAMPLE_INTERVALS: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 10.0, 100.0)
_EPOCH = datetime.date(1970, 1, 1)
_MAX_CACHED_ROWS = 4_000_000  # ~160 MB of packed rows

# A generic row: (date, *other finest dimension values, epoch second, count, sum, avg value).
# The trailing slots are at fixed offsets from the end; absent metrics are None.
Row = tuple[object, ...]


def domains_after_uid(spec: DatasetSpec) -> tuple[Sequence[object], ...]:
    """Value domains of the finest dimensions after `date` and `uid`, in key order."""
    by_name: dict[str, Sequence[object]] = {
        "clientCountryName": COUNTRIES,
        "deviceType": DEVICE_TYPES,
        "deviceOs": DEVICE_OSES,
        "deviceBrowser": DEVICE_BROWSERS,
        "qualityResolution": QUALITY_RESOLUTIONS,
        "mediaType": MEDIA_TYPES,
        "creator": CREATORS,
    }
    return tuple(by_name[name] for name in spec.finest_dimensions[2:])


@dataclass(frozen=True)
class AccountVideos:
    """An account's videos: sorted uids, traffic weights (Zipf-like) and creators."""

    uids: tuple[str, ...]
    weights: tuple[float, ...]
    creator_index: tuple[int, ...]


@lru_cache(maxsize=256)
def account_videos(seed: int, account: str, videos: int) -> AccountVideos:
    """The videos of one account, the same for every dataset and day."""
    rng = random.Random(f"{seed}:{account}:videos")
    uids = sorted({f"{rng.getrandbits(128):032x}" for _ in range(videos)})
    ranks = list(range(len(uids)))
    rng.shuffle(ranks)
    weights = tuple(1.0 / (rank + 1) ** 1.1 for rank in ranks)
    creators = tuple(0 if rng.random() < 0.4 else rng.randrange(1, len(CREATORS)) for _ in uids)
    return AccountVideos(tuple(uids), weights, creators)


@dataclass(frozen=True)
class DayData:
    """The finest rows of one account, dataset and day, sorted by packed key."""

    date: str
    midnight: int  # epoch seconds of 00:00 UTC that day
    keys: array[int]  # packed finest key without the date
    seconds: array[int]  # second of the day of each row's event time
    counts: array[int]
    sums: array[int] | None
    sample_intervals: array[float] | None

    def __len__(self) -> int:
        return len(self.keys)


class Layout:
    """How packed keys of one dataset and account map to dimension values."""

    def __init__(self, spec: DatasetSpec, uids: tuple[str, ...]) -> None:
        self.domains: tuple[Sequence[object], ...] = (uids, *domains_after_uid(spec))
        self.radices = tuple(len(domain) for domain in self.domains)
        # weight of each position: product of the radices after it
        weights = []
        product = 1
        for radix in reversed(self.radices):
            weights.append(product)
            product *= radix
        self.place = tuple(reversed(weights))

    def decode(self, key: int) -> tuple[object, ...]:
        """Dimension values (uid first) of a packed key."""
        values: list[object] = []
        for domain, radix in zip(reversed(self.domains), reversed(self.radices), strict=False):
            key, index = divmod(key, radix)
            values.append(domain[index])
        values.reverse()
        return tuple(values)

    def seek_bound(self, cursor: Sequence[object]) -> int:
        """Smallest packed key whose leading len(cursor) values are strictly above cursor."""
        prefix = 0
        for position, value in enumerate(cursor):
            domain = self.domains[position]
            index = _bisect_left(domain, value)
            prefix = prefix * self.radices[position] + index
            if index >= len(domain) or domain[index] != value:
                # No row has this value here: every key from the insertion point on is above.
                return prefix * self.place[position]
        return (prefix + 1) * self.place[len(cursor) - 1] if cursor else 0


def _bisect_left(domain: Sequence[object], value: object) -> int:
    low, high = 0, len(domain)
    while low < high:
        middle = (low + high) // 2
        if domain[middle] < value:  # type: ignore[operator]
            low = middle + 1
        else:
            high = middle
    return low


def _generate_day(
    spec: DatasetSpec, videos: AccountVideos, seed: int, account: str, day: datetime.date,
    rows_per_day: int, revision: int,
) -> DayData:  # fmt: skip
    """Make one day's finest rows from its own sub-seed."""
    rng = random.Random(f"{seed}:{account}:{spec.name}:{day.isoformat()}")
    domains = domains_after_uid(spec)
    is_minutes = spec.finest_dimensions[-1] == "creator"
    # Combinations a video can have in a day; a video's creator is fixed, not sampled.
    space = 1
    for domain in domains[:-1] if is_minutes else domains:
        space *= len(domain)
    target = max(1, round(rows_per_day * rng.uniform(0.85, 1.15)))
    day_weights = [
        0.0 if rng.random() < 0.15 else w * rng.uniform(0.5, 1.5) for w in videos.weights
    ]
    total = sum(day_weights) or 1.0
    keys: list[int] = []
    for video, weight in enumerate(day_weights):
        wanted = min(space, int(target * weight / total + rng.random()))
        if wanted == 0:
            continue
        combos = rng.sample(range(space), wanted)
        base = video * space
        if is_minutes:
            creator = videos.creator_index[video]
            keys.extend((base + combo) * len(CREATORS) + creator for combo in combos)
        else:
            keys.extend(base + combo for combo in combos)
    keys.sort()
    n = len(keys)
    rand = rng.random
    pareto = rng.paretovariate
    counts = [0 if rand() < 0.05 else min(int(pareto(1.2)), 1_000_000) for _ in range(n)]
    seconds = [int(rand() * 86400) for _ in range(n)]
    sums: list[int] | None = None
    if spec.sum_metrics:
        scale = 20.0 if is_minutes else 12.0
        sums = [int(count * rand() * scale) for count in counts]
    intervals = rng.choices(SAMPLE_INTERVALS, k=n) if spec.has_avg else None
    if revision:
        # Cloudflare revising recent days: same groups, different metrics, per revision.
        rev = random.Random(f"{seed}:{account}:{spec.name}:{day.isoformat()}:rev{revision}")
        counts = [count + 1 + rev.randrange(3) for count in counts]
        if sums is not None:
            sums = [value + rev.randrange(1, 5) for value in sums]
    return DayData(
        date=day.isoformat(),
        midnight=(day - _EPOCH).days * 86400,
        keys=array("q", keys),
        seconds=array("l", seconds),
        counts=array("q", counts),
        sums=array("q", sums) if sums is not None else None,
        sample_intervals=array("d", intervals) if intervals is not None else None,
    )


def _empty_day(day: datetime.date) -> DayData:
    return DayData(day.isoformat(), (day - _EPOCH).days * 86400, array("q"), array("l"),
                   array("q"), None, None)  # fmt: skip


class DataStore:
    """An LRU cache of generated days, shared by every server and by exact_rows."""

    def __init__(self, max_rows: int = _MAX_CACHED_ROWS) -> None:
        self._days: OrderedDict[tuple[object, ...], DayData] = OrderedDict()
        self._rows = 0
        self._max_rows = max_rows
        self._lock = threading.Lock()

    def layout(self, config: StandinConfig, account: str, spec: DatasetSpec) -> Layout:
        """The packed-key layout of one account and dataset."""
        return _layout(spec, account_videos(config.seed, account, config.videos).uids)

    def day(
        self, config: StandinConfig, account: str, spec: DatasetSpec, day: datetime.date
    ) -> DayData:
        """One day's rows (empty outside the generated history)."""
        today = config.current_day()
        if day > today or day < config.first_data_day():
            return _empty_day(day)
        revised = config.revision > 0 and (today - day).days < config.revised_days
        revision = config.revision if revised else 0
        key = (config.seed, account, spec.name, day, config.videos, config.rows_per_day, revision)
        with self._lock:
            cached = self._days.get(key)
            if cached is not None:
                self._days.move_to_end(key)
                return cached
        videos = account_videos(config.seed, account, config.videos)
        data = _generate_day(spec, videos, config.seed, account, day, config.rows_per_day, revision)
        with self._lock:
            if key not in self._days:
                self._days[key] = data
                self._rows += len(data)
                while self._rows > self._max_rows and len(self._days) > 1:
                    _, evicted = self._days.popitem(last=False)
                    self._rows -= len(evicted)
        return data

    def rows(
        self,
        config: StandinConfig,
        account: str,
        spec: DatasetSpec,
        start: datetime.date,
        end: datetime.date,
    ) -> Iterator[Row]:
        """Every finest row with date in [start, end], decoded to generic row tuples."""
        first = max(start, config.first_data_day())
        last = min(end, config.current_day())
        layout = self.layout(config, account, spec)
        day = first
        while day <= last:
            data = self.day(config, account, spec, day)
            yield from decode_rows(data, layout, 0, len(data))
            day += datetime.timedelta(days=1)


def decode_rows(data: DayData, layout: Layout, begin: int, end: int) -> Iterator[Row]:
    """Generic row tuples of data[begin:end]."""
    decode = layout.decode
    sums = data.sums
    intervals = data.sample_intervals
    for i in range(begin, end):
        yield (
            data.date,
            *decode(data.keys[i]),
            data.midnight + data.seconds[i],
            data.counts[i],
            sums[i] if sums is not None else None,
            intervals[i] if intervals is not None else None,
        )


@lru_cache(maxsize=256)
def _layout(spec: DatasetSpec, uids: tuple[str, ...]) -> Layout:
    return Layout(spec, uids)


STORE = DataStore()


def live_input_uids(seed: int, account: str, count: int) -> tuple[str, ...]:
    """An account's live input uids (the REST catalog's live inputs use the same function)."""
    rng = random.Random(f"{seed}:{account}:live-inputs")
    return tuple(sorted(f"{rng.getrandbits(128):032x}" for _ in range(count)))
