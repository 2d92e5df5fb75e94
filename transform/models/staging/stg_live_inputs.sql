{#-
  The current live inputs: one row per (account_id, uid), per account the inputs of its latest
  complete listing, as stg_videos decides for videos (macros/current_catalog.sql).
-#}
with current_live_inputs as (
    {{ cloudflare_stream.current_catalog('live_inputs') }}
)

select
    account_id,
    uid,
    name,
    created,
    modified,
    enabled,
    delete_recording_after_days,
    listing_id
from current_live_inputs
