{#-
  account_daily against the raw daily streams, day by day: every (account_id, date) that has
  raw rows is in account_daily with the same views, time_viewed_minutes and minutes_viewed.
  A day moved, lost or counted twice shows here. Returns one row per (account, day) that
  differs.
-#}
with

raw_days as (
    select account_id, cast(date as date) as date, sum(views) as views,
        sum(time_viewed_minutes) as time_viewed_minutes, 0 as minutes_viewed
    from {{ cloudflare_stream.stream_source('video_playback_events') }} as raw
    group by account_id, cast(date as date)
    union all
    select account_id, cast(date as date) as date, 0 as views, 0 as time_viewed_minutes,
        sum(minutes_viewed) as minutes_viewed
    from {{ cloudflare_stream.stream_source('minutes_viewed') }} as raw
    group by account_id, cast(date as date)
),

per_day as (
    select account_id, date, sum(views) as views, sum(time_viewed_minutes) as time_viewed_minutes,
        sum(minutes_viewed) as minutes_viewed
    from raw_days
    group by account_id, date
)

select per_day.account_id, per_day.date
from per_day
left join {{ ref('account_daily') }} as account_daily
    on account_daily.account_id = per_day.account_id and account_daily.date = per_day.date
where account_daily.account_id is null
    or account_daily.views <> per_day.views
    or account_daily.time_viewed_minutes <> per_day.time_viewed_minutes
    or account_daily.minutes_viewed <> per_day.minutes_viewed
