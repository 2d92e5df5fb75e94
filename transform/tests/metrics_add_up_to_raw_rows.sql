{#-
  Every additive metric of the models equals the sum of the raw rows it stands for: per
  account, each model's total and the raw table's total agree. A join that multiplied rows, a
  lost stream or a row counted twice shows here as a difference. Returns one row per (model
  column, account) that differs.
-#}
{%- set checks = [
    ('video_daily', 'views', 'video_playback_events', 'views'),
    ('video_daily', 'time_viewed_minutes', 'video_playback_events', 'time_viewed_minutes'),
    ('video_daily', 'buffer_events', 'video_buffer_events', 'buffer_events'),
    ('video_daily', 'quality_changes', 'video_quality_events', 'quality_changes'),
    ('video_daily', 'minutes_viewed', 'minutes_viewed', 'minutes_viewed'),
    ('video_delivery_hourly', 'requests', 'cmcd_hourly', 'requests'),
    ('video_delivery_hourly', 'milliseconds_viewed', 'cmcd_hourly', 'milliseconds_viewed'),
    ('video_delivery_daily', 'requests', 'cmcd_hourly', 'requests'),
    ('video_delivery_daily', 'milliseconds_viewed', 'cmcd_hourly', 'milliseconds_viewed'),
    ('live_input_hourly', 'segments', 'live_input_events_hourly', 'segments'),
    ('billing_monthly', 'minutes_delivered', 'minutes_viewed', 'minutes_viewed'),
] -%}
{%- for model, column, raw_table, raw_column in checks %}
select
    '{{ model }}.{{ column }}' as metric,
    coalesce(raw_totals.account_id, model_totals.account_id) as account_id,
    raw_totals.total as raw_total,
    model_totals.total as model_total
from (
    select account_id, sum({{ raw_column }}) as total
    from {{ cloudflare_stream.stream_source(raw_table) }} as raw
    group by account_id
) as raw_totals
full outer join (
    select account_id, sum({{ column }}) as total
    from {{ ref(model) }}
    group by account_id
) as model_totals
    on model_totals.account_id = raw_totals.account_id
where coalesce(raw_totals.total, 0) <> coalesce(model_totals.total, 0)
{% if not loop.last %}union all{% endif %}
{%- endfor %}
