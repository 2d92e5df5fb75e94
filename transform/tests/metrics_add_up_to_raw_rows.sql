{#-
  Every metric of the models equals the sum of the raw rows it stands for: per account, the
  models' totals and the raw tables' totals agree. A join that multiplied rows, or a lost
  stream, shows here as a difference. Returns one row per (account, metric) that differs.
-#}
with

raw_totals as (
    select account_id, 'views' as metric, sum(views) as total
    from {{ cloudflare_stream.stream_source('video_playback_events') }} as raw group by account_id
    union all
    select account_id, 'time_viewed_minutes', sum(time_viewed_minutes)
    from {{ cloudflare_stream.stream_source('video_playback_events') }} as raw group by account_id
    union all
    select account_id, 'buffer_events', sum(buffer_events)
    from {{ cloudflare_stream.stream_source('video_buffer_events') }} as raw group by account_id
    union all
    select account_id, 'quality_changes', sum(quality_changes)
    from {{ cloudflare_stream.stream_source('video_quality_events') }} as raw group by account_id
    union all
    select account_id, 'minutes_viewed', sum(minutes_viewed)
    from {{ cloudflare_stream.stream_source('minutes_viewed') }} as raw group by account_id
    union all
    select account_id, 'requests', sum(requests)
    from {{ cloudflare_stream.stream_source('cmcd_hourly') }} as raw group by account_id
    union all
    select account_id, 'milliseconds_viewed', sum(milliseconds_viewed)
    from {{ cloudflare_stream.stream_source('cmcd_hourly') }} as raw group by account_id
),

model_totals as (
    select account_id, 'views' as metric, sum(views) as total
    from {{ ref('video_daily') }} group by account_id
    union all
    select account_id, 'time_viewed_minutes', sum(time_viewed_minutes)
    from {{ ref('video_daily') }} group by account_id
    union all
    select account_id, 'buffer_events', sum(buffer_events)
    from {{ ref('video_daily') }} group by account_id
    union all
    select account_id, 'quality_changes', sum(quality_changes)
    from {{ ref('video_daily') }} group by account_id
    union all
    select account_id, 'minutes_viewed', sum(minutes_viewed)
    from {{ ref('video_daily') }} group by account_id
    union all
    select account_id, 'requests', sum(requests)
    from {{ ref('video_delivery_hourly') }} group by account_id
    union all
    select account_id, 'milliseconds_viewed', sum(milliseconds_viewed)
    from {{ ref('video_delivery_hourly') }} group by account_id
)

select
    coalesce(raw_totals.account_id, model_totals.account_id) as account_id,
    coalesce(raw_totals.metric, model_totals.metric) as metric,
    raw_totals.total as raw_total,
    model_totals.total as model_total
from raw_totals
full outer join model_totals
    on model_totals.account_id = raw_totals.account_id and model_totals.metric = raw_totals.metric
where coalesce(raw_totals.total, 0) <> coalesce(model_totals.total, 0)
