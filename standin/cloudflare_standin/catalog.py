"""Stream's REST catalog: deterministic video libraries, live inputs and storage use per account.

An account's library holds the analytics videos of `data.account_videos` (so names join to the
analytics `uid`s) except `catalog_gone` of them (deleted since their analytics were recorded),
plus `catalog_unwatched` videos that have no analytics. Uploads come in bulk: many videos share
one `created` second, and tie groups are placed across every 1,000th position from either end,
where pages of 1,000 end. There, the video before the page's last one is exactly one `created`
unit older: the tie group follows the one before it by one second, and with microseconds the
two videos at the page's end are one microsecond apart (a client whose next `start` is that
unit earlier must drop them too when `start` is inclusive). `library_sizes` sets one account's
library size instead (12,000 videos, say). Every value comes from generators seeded by (seed,
account, ...), so a library is the same in every process; tests change it only through
`delete_video`, `rename_video`, `delete_live_input` and `change_live_input`, which the listings
apply on top of the generated library, and `listing_misses`, which makes a listing leave items
out while its `total` still counts them.
"""

from __future__ import annotations

import copy
import datetime
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from .config import ListingMiss, StandinConfig
from .data import CREATORS, account_videos, live_input_uids

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
LIBRARY_START = 1672531200  # 2023-01-01T00:00:00Z: the oldest upload
LIBRARY_SPAN = 80_000_000  # seconds of uploads, on average (about 2.5 years, to mid 2025)
PAGE = 1000  # Cloudflare's page size: tie groups straddle its multiples from either end
_MAX_BULK = 150  # largest random bulk-upload group (a tie group is at most 2 * 150 + 9)
_BULK_SIZES = (2, 2, 3, 4, 5, 8, 12, 20, 40, 80, _MAX_BULK)
_TOPICS = ("Product demo", "Webinar", "Onboarding", "Keynote", "Tutorial", "Interview",
           "Launch teaser", "Customer story", "Town hall", "Release notes")  # fmt: skip
_ODD_NAMES = ('Café tour \u2013 épisode "3"', "名古屋 walk 🚶", "O'Brien's Q&A; part 2/3",
              "tab\tand back\\slash")  # fmt: skip
_RESOLUTIONS = ((1920, 1080), (1280, 720), (3840, 2160), (720, 1280), (640, 360))
_NOT_VIDEO = "The file was not recognized as a valid video file."
_PENDING_STATES = ("pendingupload", "downloading", "queued", "inprogress", "error")


def rfc3339(epoch_seconds: int, micros: int | None = None) -> str:
    """`2024-05-06T07:08:09Z`, or with six fraction digits when `micros` is given."""
    moment = _EPOCH + datetime.timedelta(seconds=epoch_seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{micros:06d}Z" if micros is not None else f"{text}Z"


def parse_rfc3339(text: str) -> int:
    """Epoch microseconds of an RFC 3339 timestamp; ValueError when it is not one."""
    raw = text.strip()
    if len(raw) < 20 or raw[10] not in "Tt ":
        raise ValueError(text)
    if raw[-1] in "zZ":
        raw = raw[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        raise ValueError(text)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Video:
    """One generated video: its sort key parts and its JSON without `created`."""

    uid: str
    second: int  # epoch second of `created`; bulk uploads share one
    micros: int  # sub-second part, shown only with video_created_precision="microseconds"
    body: dict[str, Any]  # Cloudflare's JSON except `created` (never mutated)


@lru_cache(maxsize=64)
def library(
    seed: int, account: str, videos: int, unwatched: int, gone: int, live_inputs: int
) -> tuple[Video, ...]:
    """An account's generated library in ascending (created second, uid) order."""
    analytics = account_videos(seed, account, videos)
    creators = dict(zip(analytics.uids, analytics.creator_index, strict=True))
    rng = random.Random(f"{seed}:{account}:library")
    deleted = set(rng.sample(analytics.uids, min(gone, len(analytics.uids))))
    extra_rng = random.Random(f"{seed}:{account}:unwatched")
    extra: set[str] = set()
    while len(extra) < unwatched:
        uid = f"{extra_rng.getrandbits(128):032x}"
        if uid not in creators:
            extra.add(uid)
    uids = sorted({u for u in analytics.uids if u not in deleted} | extra)
    rng.shuffle(uids)
    seconds = _created_seconds(len(uids), rng)
    inputs = live_input_uids(seed, account, live_inputs)
    out = []
    for uid, second in zip(uids, seconds, strict=True):
        own = random.Random(f"{seed}:{account}:video:{uid}")
        creator = CREATORS[creators[uid]] if uid in creators else own.choice(CREATORS)
        body = _video_body(uid, second, creator or None, uid in creators, inputs, account, own)
        out.append(Video(uid, second, own.randrange(1_000_000), body))
    out.sort(key=lambda video: (video.second, video.uid))
    return tuple(
        _one_microsecond_apart_at_page_ends(out, random.Random(f"{seed}:{account}:micros"))
    )


def _page_boundaries(n: int) -> set[int]:
    """Where pages of 1,000 end, counted from either end of n positions."""
    return {b for k in range(1, n // PAGE + 1) for b in (k * PAGE, n - k * PAGE)}


def _one_microsecond_apart_at_page_ends(videos: list[Video], rng: random.Random) -> list[Video]:
    """Ordered by microseconds, the two videos before each page boundary are 1 µs apart.

    Within a tie second, the microsecond order decides which video ends the page; the micros of
    such a second are redrawn (distinct, ascending in their old order) to place that gap.
    """
    ends: dict[int, set[int]] = {}  # first index of a tie second -> page ends inside it
    for boundary in _page_boundaries(len(videos)):
        if boundary < 2:
            continue
        first = boundary - 1
        while first > 0 and videos[first - 1].second == videos[boundary - 1].second:
            first -= 1
        if boundary - 2 >= first:  # the video before the page's last shares its second
            ends.setdefault(first, set()).add(boundary - 1 - first)
    out = list(videos)
    for first, positions in sorted(ends.items()):
        second = out[first].second
        size = sum(1 for video in out[first:] if video.second == second)  # ascending seconds
        group = sorted(out[first : first + size], key=lambda video: (video.micros, video.uid))
        micros = sorted(rng.sample(range(1, 1_000_000), size))
        for position in sorted(positions, reverse=True):
            micros[position - 1] = micros[position] - 1  # stays above micros[position - 2]
        redrawn = {v.uid: replace(v, micros=m) for v, m in zip(group, micros, strict=True)}
        out[first : first + size] = [redrawn[v.uid] for v in out[first : first + size]]
    return out


def _created_seconds(n: int, rng: random.Random) -> list[int]:
    """Ascending upload seconds for n positions, with ties across every page boundary.

    The tie group at a page boundary comes exactly one second after the group before it.
    """
    joined = [False] * n  # position i was uploaded in the same second as i - 1
    boundaries = _page_boundaries(n)
    for boundary in boundaries:
        for i in range(boundary - 4, boundary + 5):
            if 0 < i < n:
                joined[i] = True
    sizes = [size for size in _BULK_SIZES if size <= max(2, n // 10)]
    left = 0
    for i in range(1, n):
        if left > 0:
            joined[i] = True
            left -= 1
        elif rng.random() < 0.05:
            left = rng.choice(sizes) - 1
    gap = max(2, 2 * LIBRARY_SPAN // max(1, n - sum(joined)))
    # The first position of each page end's tie group: it follows the group before by 1 s.
    one_second_after = set()
    for boundary in boundaries:
        first = boundary - 1
        while first > 0 and joined[first]:
            first -= 1
        if first > 0:
            one_second_after.add(first)
    second = LIBRARY_START
    out = []
    for i in range(n):
        if i > 0 and not joined[i]:
            # Sometimes the next bulk lands in the very next second: adjacent tie groups.
            step = 1 if rng.random() < 0.1 else rng.randint(2, gap)
            second += 1 if i in one_second_after else step
        out.append(second)
    return out


def _name(uid: str, rng: random.Random) -> str:
    if rng.random() < 0.02:
        return rng.choice(_ODD_NAMES)
    return f"{rng.choice(_TOPICS)} {int(uid[:4], 16) % 1000:03d}.mp4"


def _video_body(
    uid: str, second: int, creator: str | None, watched: bool, inputs: tuple[str, ...],
    account: str, rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    """A video's JSON (without `created`): realistic values, some fields absent or null."""
    roll = rng.random()
    if watched or roll < 0.6:
        state = "ready"
    elif roll < 0.65 and inputs:
        state = "live-inprogress"
    else:
        state = rng.choice(_PENDING_STATES)
    ready = state == "ready"
    recorded = state == "live-inprogress" or (bool(inputs) and rng.random() < 0.05)
    duration = round(rng.uniform(3.0, 5400.0), 3) if ready else -1.0
    width, height = rng.choice(_RESOLUTIONS) if ready else (-1, -1)
    uploaded = second + rng.randint(1, 600)
    modified = uploaded + rng.randint(0, 40 * 86400)
    host = f"https://customer-{account[:12]}.cloudflarestream.com/{uid}"
    meta: dict[str, Any] = {"name": _name(uid, rng)}
    if rng.random() < 0.3:
        meta["filename"] = meta["name"]
    if rng.random() < 0.1:
        meta["downloaded-from"] = f"https://media.example.com/{uid[:8]}.mp4"
    error = state == "error"
    body: dict[str, Any] = {
        "uid": uid,
        "creator": creator,
        "thumbnail": f"{host}/thumbnails/thumbnail.jpg",
        "thumbnailTimestampPct": rng.choice((0, 0, 0.25, 0.5)),
        "readyToStream": ready,
        "readyToStreamAt": rfc3339(uploaded + rng.randint(5, 900)) if ready else None,
        "status": {
            "state": state,
            "pctComplete": "100.000000" if ready else f"{rng.uniform(0, 99):.6f}",
            "errorReasonCode": "ERR_NON_VIDEO" if error else "",
            "errorReasonText": _NOT_VIDEO if error else "",
        },
        "meta": meta,
        "modified": rfc3339(modified),
        "uploaded": rfc3339(uploaded) if state != "pendingupload" else None,
        "uploadExpiry": rfc3339(second + 3600) if state == "pendingupload" else None,
        "size": int(duration * rng.uniform(1e5, 8e5)) if ready else None,
        "preview": f"{host}/watch",
        "allowedOrigins": ["example.com"] if rng.random() < 0.1 else [],
        "requireSignedURLs": rng.random() < 0.15,
        "scheduledDeletion": rfc3339(modified + 90 * 86400) if rng.random() < 0.03 else None,
        "input": {"width": width, "height": height},
        "playback": {"hls": f"{host}/manifest/video.m3u8", "dash": f"{host}/manifest/video.mpd"},
        "watermark": None,
        "liveInput": rng.choice(inputs) if recorded else None,
        "clippedFrom": None,
        "maxDurationSeconds": rng.choice((None, None, 3600, 14400)),
        "duration": duration,
    }
    if state == "inprogress":
        body["status"]["step"] = "encoding"
    extra = rng.random()
    if extra < 0.03:
        body["meta"] = {}  # no name at all
    elif extra < 0.05:
        del body["meta"]
    elif extra < 0.07:
        body["meta"] = None
    if rng.random() < 0.05:
        del body["size"]
    if rng.random() < 0.05:
        body["duration"] = None
    if rng.random() < 0.05:
        body["clippedFrom"] = f"{rng.getrandbits(128):032x}"
    if rng.random() < 0.2:
        body["publicDetails"] = {"title": _name(uid, rng), "share_link": "", "channel_link": "",
                                 "logo": "", "media_id": 0}  # fmt: skip
    if rng.random() < 0.04:
        body["experimentalCaptions"] = {"languages": ["en", "fr"]}  # a field the tap never saw
    return body


# --- the current state of a library (generated, then deletions and renames) -------------------


def unwatched_videos(config: StandinConfig, account: str) -> int:
    """How many library videos of the account have no analytics."""
    size = config.library_sizes.get(account)
    if size is None:
        return config.catalog_unwatched
    watched = config.videos - min(config.catalog_gone, config.videos)
    if size < watched:
        raise ValueError(f"library_sizes[{account}] = {size} is below its {watched} watched videos")
    return size - watched


def current_library(config: StandinConfig, account: str) -> list[tuple[int, str, dict[str, Any]]]:
    """(sort key, uid, JSON) of the account's videos now, ascending by (created, uid)."""
    generated = library(config.seed, account, config.videos, unwatched_videos(config, account),
                        config.catalog_gone, config.live_inputs)  # fmt: skip
    micro = config.video_created_precision == "microseconds"
    out = []
    for video in generated:
        if (account, video.uid) in config.deleted_videos:
            continue
        body = {"created": rfc3339(video.second, video.micros if micro else None), **video.body}
        renamed = config.renamed_videos.get((account, video.uid))
        if renamed is not None:
            meta = body.get("meta")
            body["meta"] = {**(meta if isinstance(meta, dict) else {}), "name": renamed[0]}
            body["modified"] = renamed[1]
        key = video.second * 1_000_000 + (video.micros if micro else 0)
        out.append((key, video.uid, body))
    if micro:
        out.sort(key=lambda item: (item[0], item[1]))
    return out


@dataclass
class VideoQuery:
    """The query parameters of List videos, parsed."""

    asc: bool = False
    start: int | None = None  # epoch microseconds
    end: int | None = None
    limit: int = PAGE
    include_counts: bool = False
    status: str | None = None
    type: str | None = None
    creator: str | None = None
    search: str | None = None
    video_name: str | None = None
    id: str | None = None
    live_input_id: str | None = None


def list_videos(
    config: StandinConfig, account: str, query: VideoQuery
) -> tuple[list[dict[str, Any]], int, int]:
    """(page, remaining after it, total matching) for one List videos request.

    A listing of `listing_misses` leaves its videos out of every page; `total` counts them.
    """
    inclusive = config.video_bounds == "inclusive"
    after: Callable[[int, int], bool] = (lambda a, b: a >= b) if inclusive else (lambda a, b: a > b)
    videos = current_library(config, account)
    first_page = query.start is None and query.end is None
    missed = listing_missed(config, account, "videos", [uid for _, uid, _ in videos], first_page)
    matched = [
        (key, uid, body)
        for key, uid, body in videos
        if (query.start is None or after(key, query.start))
        and (query.end is None or after(query.end, key))
        and _matches(body, query)
    ]
    total = len(matched)
    matched = [item for item in matched if item[1] not in missed]
    if not query.asc:
        matched.reverse()
    page = [body for _, _, body in matched[: query.limit]]
    return page, len(matched) - len(page), total


def listing_missed(
    config: StandinConfig, account: str, resource: str, uids: list[str], starts: bool
) -> set[str]:
    """The uids a listing of `listing_misses` leaves out: as many from the middle of `uids`.

    `starts`: this request begins a listing (a first page), which counts one of `listings`.
    """
    miss: ListingMiss | None = config.listing_misses.get((account, resource))
    if miss is None:
        return set()
    if starts:
        miss.under_way = miss.listings is None or miss.listings > 0
        if miss.listings:
            miss.listings -= 1
    if not miss.under_way:
        return set()
    middle = max(0, (len(uids) - miss.items) // 2)
    return set(uids[middle : middle + miss.items])


def _matches(body: dict[str, Any], query: VideoQuery) -> bool:
    meta = body.get("meta")
    name = meta.get("name") if isinstance(meta, dict) else None
    checks = (
        query.status is None or body["status"]["state"] == query.status,
        query.type is None or (query.type == "live") == (body.get("liveInput") is not None),
        query.creator is None or body.get("creator") == query.creator,
        query.search is None or (name is not None and query.search.lower() in name.lower()),
        query.video_name is None or name == query.video_name,
        query.id is None or body["uid"] == query.id,
        query.live_input_id is None or body.get("liveInput") == query.live_input_id,
    )
    return all(checks)


def find_video(config: StandinConfig, account: str, uid: str) -> dict[str, Any] | None:
    """A current video's JSON, or None when the account has no such video (now)."""
    for _, known, body in current_library(config, account):
        if known == uid:
            return body
    return None


def delete_video(config: StandinConfig, account: str, uid: str) -> None:
    """Delete a video from the library; KeyError when it is not there."""
    if account not in config.accounts or find_video(config, account, uid) is None:
        raise KeyError(f"account {account} has no video {uid}")
    config.deleted_videos.add((account, uid))


def rename_video(
    config: StandinConfig, account: str, uid: str, name: str, modified: str | None = None
) -> None:
    """Set a video's `meta.name` and `modified` (default: now, whole seconds, UTC)."""
    if account not in config.accounts or find_video(config, account, uid) is None:
        raise KeyError(f"account {account} has no video {uid}")
    config.renamed_videos[(account, uid)] = (name, _modified(modified))


def _modified(modified: str | None) -> str:
    """A change's `modified`: now (whole seconds, UTC) by default; ValueError if not RFC 3339."""
    if modified is None:
        now = datetime.datetime.now(datetime.timezone.utc)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    parse_rfc3339(modified)
    return modified


# --- live inputs and storage use --------------------------------------------------------------


def live_inputs(config: StandinConfig, account: str) -> list[dict[str, Any]]:
    """An account's live inputs now (deletions and changes applied), sorted by uid."""
    out = []
    for number, uid in enumerate(live_input_uids(config.seed, account, config.live_inputs)):
        if (account, uid) in config.deleted_live_inputs:
            continue
        rng = random.Random(f"{config.seed}:{account}:live-input:{uid}")
        created = LIBRARY_START + rng.randrange(LIBRARY_SPAN)
        item: dict[str, Any] = {
            "uid": uid,
            "created": rfc3339(created),
            "modified": rfc3339(created + rng.randrange(90 * 86400)),
            "enabled": number == 0 or rng.random() < 0.5,
            "meta": {"name": f"Studio {chr(ord('A') + number % 26)}"} if number != 1 else {},
            "deleteRecordingAfterDays": None if number % 2 == 0 else 30,
        }
        change = config.changed_live_inputs.get((account, uid), {})
        if "name" in change:
            item["meta"] = {**item["meta"], "name": change["name"]}
        if "enabled" in change:
            item["enabled"] = change["enabled"]
        if change:
            item["modified"] = change["modified"]
        out.append(item)
    return out


def list_live_inputs(config: StandinConfig, account: str) -> tuple[list[dict[str, Any]], int]:
    """(the live inputs one listing shows, Cloudflare's total); `listing_misses` leave some out."""
    inputs = live_inputs(config, account)
    missed = listing_missed(config, account, "live_inputs", [i["uid"] for i in inputs], True)
    return [i for i in inputs if i["uid"] not in missed], len(inputs)


def delete_live_input(config: StandinConfig, account: str, uid: str) -> None:
    """Delete a live input; KeyError when the account has no such input (now)."""
    _check_live_input(config, account, uid)
    config.deleted_live_inputs.add((account, uid))


def _check_live_input(config: StandinConfig, account: str, uid: str) -> None:
    """KeyError unless the account has this live input now."""
    known = account in config.accounts and uid in {i["uid"] for i in live_inputs(config, account)}
    if not known:
        raise KeyError(f"account {account} has no live input {uid}")


def change_live_input(
    config: StandinConfig,
    account: str,
    uid: str,
    *,
    name: str | None = None,
    enabled: bool | None = None,
    modified: str | None = None,
) -> None:
    """Rename a live input and/or turn it on or off; `modified` defaults to now (UTC)."""
    _check_live_input(config, account, uid)
    change = dict(config.changed_live_inputs.get((account, uid), {}))
    if name is not None:
        change["name"] = name
    if enabled is not None:
        change["enabled"] = enabled
    change["modified"] = _modified(modified)
    config.changed_live_inputs[(account, uid)] = change


def storage_usage(config: StandinConfig, account: str, creator: str | None) -> dict[str, Any]:
    """Storage use of the current library (only `creator`'s videos when given)."""
    durations = []
    count = 0
    for _, _, body in current_library(config, account):
        if creator is not None and body.get("creator") != creator:
            continue
        count += 1
        duration = body.get("duration")
        if isinstance(duration, float) and duration > 0:
            durations.append(duration)
    return {
        "creator": creator,
        "totalStorageMinutes": round(math.fsum(durations) / 60, 4),
        "totalStorageMinutesLimit": config.storage_minutes_limit,
        "videoCount": count,
    }


# --- the truth, for tests ----------------------------------------------------------------------


def expected_videos(config: StandinConfig, account: str) -> list[dict[str, Any]]:
    """Every current video of the account as Cloudflare's JSON, ascending by (created, uid)."""
    return copy.deepcopy([body for _, _, body in current_library(config, account)])


def expected_live_inputs(config: StandinConfig, account: str) -> list[dict[str, Any]]:
    """Every live input of the account as Cloudflare's JSON, sorted by uid."""
    return live_inputs(config, account)


def expected_storage_usage(
    config: StandinConfig, account: str, creator: str | None = None
) -> dict[str, Any]:
    """The storage-usage `result` the account has now."""
    return storage_usage(config, account, creator)
