{#-
  One row per (account_id, date, uid): each raw stream is first summed to that grain (its own
  dimensions, such as country, device or media type, summed away), then the four are joined on
  the grain, so no stream multiplies another's rows. Counts are Cloudflare's extrapolated
  values: they are summed, never multiplied by sample_interval. The catalog is joined with a
  left join: views of a video that has since been deleted stay, with name/creator/duration null.
  share_of_minutes_viewed is the video's part of the account's billed minutes that day.
-#}
with

playback as (
    select
        account_id,
        cast(date as date) as date,
        uid,
        sum(views) as views,
        sum(time_viewed_minutes) as time_viewed_minutes
    from {{ cloudflare_stream.stream_source('video_playback_events') }} as raw
    group by account_id, cast(date as date), uid
),

buffering as (
    select account_id, cast(date as date) as date, uid, sum(buffer_events) as buffer_events
    from {{ cloudflare_stream.stream_source('video_buffer_events') }} as raw
    group by account_id, cast(date as date), uid
),

quality as (
    select account_id, cast(date as date) as date, uid, sum(quality_changes) as quality_changes
    from {{ cloudflare_stream.stream_source('video_quality_events') }} as raw
    group by account_id, cast(date as date), uid
),

billed as (
    select account_id, cast(date as date) as date, uid, sum(minutes_viewed) as minutes_viewed
    from {{ cloudflare_stream.stream_source('minutes_viewed') }} as raw
    group by account_id, cast(date as date), uid
),

grain as (
    select account_id, date, uid from (
        select account_id, date, uid from playback
        union all
        select account_id, date, uid from buffering
        union all
        select account_id, date, uid from quality
        union all
        select account_id, date, uid from billed
    ) as keys
    group by account_id, date, uid
)

select
    grain.account_id,
    grain.date,
    grain.uid,
    videos.name,
    videos.creator,
    videos.duration,
    videos.uid is not null as in_catalog,
    cast(coalesce(playback.views, 0) as {{ dbt.type_bigint() }}) as views,
    cast(coalesce(playback.time_viewed_minutes, 0) as {{ dbt.type_bigint() }}) as time_viewed_minutes,
    cast(coalesce(billed.minutes_viewed, 0) as {{ dbt.type_bigint() }}) as minutes_viewed,
    case when sum(billed.minutes_viewed) over (partition by grain.account_id, grain.date) > 0
        then cast(coalesce(billed.minutes_viewed, 0) as {{ cloudflare_stream.type_double() }})
            / sum(billed.minutes_viewed) over (partition by grain.account_id, grain.date)
    end as share_of_minutes_viewed,
    cast(coalesce(buffering.buffer_events, 0) as {{ dbt.type_bigint() }}) as buffer_events,
    cast(coalesce(quality.quality_changes, 0) as {{ dbt.type_bigint() }}) as quality_changes,
    case when playback.views > 0
        then cast(coalesce(buffering.buffer_events, 0) as {{ cloudflare_stream.type_double() }}) / playback.views
    end as buffer_events_per_view,
    case when playback.views > 0 and videos.duration > 0
        then cast(playback.time_viewed_minutes as {{ cloudflare_stream.type_double() }}) * 60
            / playback.views / videos.duration
    end as completion_estimate
from grain
left join playback
    on playback.account_id = grain.account_id and playback.date = grain.date
    and playback.uid = grain.uid
left join buffering
    on buffering.account_id = grain.account_id and buffering.date = grain.date
    and buffering.uid = grain.uid
left join quality
    on quality.account_id = grain.account_id and quality.date = grain.date
    and quality.uid = grain.uid
left join billed
    on billed.account_id = grain.account_id and billed.date = grain.date
    and billed.uid = grain.uid
left join {{ ref('stg_videos') }} as videos
    on videos.account_id = grain.account_id and videos.uid = grain.uid
