{#-
  One row per (account_id, date): the day's totals over video_daily, and the account's storage
  as last read on or before that day (storage_usage is a daily snapshot: never summed). An
  empty uid (or the var empty_uid_marker a stream map writes instead) is not a video.
-#}
with

watched as (
    select
        account_id,
        date,
        sum(views) as views,
        sum(time_viewed_minutes) as time_viewed_minutes,
        sum(minutes_viewed) as minutes_viewed,
        sum(
            case when (views > 0 or minutes_viewed > 0)
                and uid not in ('', {{ dbt.string_literal(var('empty_uid_marker')) }})
                then 1 else 0 end
        ) as videos_watched
    from {{ ref('video_daily') }}
    group by account_id, date
),

storage as (
    select
        account_id,
        cast(date as date) as date,
        total_storage_minutes,
        total_storage_minutes_limit,
        video_count
    from {{ cloudflare_stream.stream_source('storage_usage') }} as raw
),

days as (
    select account_id, date from (
        select account_id, date from watched
        union all
        select account_id, date from storage
    ) as both_days
    group by account_id, date
),

latest_reading as (
    select days.account_id, days.date, max(storage.date) as storage_date
    from days
    inner join storage
        on storage.account_id = days.account_id and storage.date <= days.date
    group by days.account_id, days.date
)

select
    days.account_id,
    days.date,
    cast(coalesce(watched.views, 0) as {{ dbt.type_bigint() }}) as views,
    cast(coalesce(watched.time_viewed_minutes, 0) as {{ dbt.type_bigint() }})
        as time_viewed_minutes,
    cast(coalesce(watched.minutes_viewed, 0) as {{ dbt.type_bigint() }}) as minutes_viewed,
    cast(coalesce(watched.videos_watched, 0) as {{ dbt.type_bigint() }}) as videos_watched,
    storage.total_storage_minutes,
    storage.total_storage_minutes_limit,
    storage.video_count,
    latest_reading.storage_date as storage_read_on
from days
left join watched
    on watched.account_id = days.account_id and watched.date = days.date
left join latest_reading
    on latest_reading.account_id = days.account_id and latest_reading.date = days.date
left join storage
    on storage.account_id = latest_reading.account_id
    and storage.date = latest_reading.storage_date
