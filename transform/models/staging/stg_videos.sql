{#-
  The current video catalog: one row per (account_id, uid). A loader that soft-deletes (sets
  _sdc_deleted_at, as target-postgres does with ACTIVATE_VERSION) keeps deleted videos' rows:
  they are left out here. Cloudflare's duration -1 ("not known yet") becomes null.
-#}
{%- set videos = cloudflare_stream.loaded_source('videos') -%}
select
    account_id,
    uid,
    name,
    creator,
    created,
    uploaded,
    case when duration >= 0 then duration end as duration,
    status_state,
    ready_to_stream
from {{ cloudflare_stream.stream_source('videos') }} as videos
{%- if cloudflare_stream.has_column(videos, '_sdc_deleted_at') %}
where _sdc_deleted_at is null
{%- endif %}
