{#-
  The current video catalog: one row per (account_id, uid), per account the videos of its
  latest complete listing (macros/current_catalog.sql, docs/deletions.md). Cloudflare's
  duration -1 ("not known yet") becomes null.
-#}
with current_videos as (
    {{ cloudflare_stream.current_catalog('videos') }}
)

select
    account_id,
    uid,
    name,
    creator,
    created,
    uploaded,
    case when duration >= 0 then duration end as duration,
    status_state,
    ready_to_stream,
    listing_id
from current_videos
