{#-
  The current live inputs: one row per (account_id, uid). A loader that soft-deletes (sets
  _sdc_deleted_at, as target-postgres does with ACTIVATE_VERSION) keeps deleted inputs' rows:
  they are left out here, as stg_videos does for videos.
-#}
{%- set live_inputs = cloudflare_stream.loaded_source('live_inputs') -%}
select
    account_id,
    uid,
    name,
    created,
    modified,
    enabled,
    delete_recording_after_days
from {{ cloudflare_stream.stream_source('live_inputs') }} as live_inputs
{%- if cloudflare_stream.has_column(live_inputs, '_sdc_deleted_at') %}
where _sdc_deleted_at is null
{%- endif %}
