{#-
  One row per (account_id, datetime_hour, video_id) from cmcd_hourly, whose rows also split by
  country, stream type and streaming format. Averages are not added up: each is turned back
  into its additive total (average x requests), summed, and divided again. `viewers` and the
  percentiles cannot be combined at all and stay in the raw table.
-#}
with

delivery as (
    select
        account_id,
        datetime_hour,
        video_id,
        sum(requests) as requests,
        sum(milliseconds_viewed) as milliseconds_viewed,
        sum(avg_buffer_starvation_duration * requests) as buffer_starvation_milliseconds,
        sum(case when avg_buffer_starvation_duration is not null then requests end)
            as starvation_requests,
        sum(avg_encoded_bitrate * requests) as encoded_bitrate_x_requests,
        sum(case when avg_encoded_bitrate is not null then requests end) as bitrate_requests
    from {{ cloudflare_stream.stream_source('cmcd_hourly') }} as raw
    group by account_id, datetime_hour, video_id
)

select
    account_id,
    datetime_hour,
    video_id,
    cast(requests as {{ dbt.type_bigint() }}) as requests,
    cast(milliseconds_viewed as {{ dbt.type_bigint() }}) as milliseconds_viewed,
    cast(buffer_starvation_milliseconds as {{ cloudflare_stream.type_double() }})
        as buffer_starvation_milliseconds,
    case when milliseconds_viewed > 0 and starvation_requests > 0
        then cast(buffer_starvation_milliseconds as {{ cloudflare_stream.type_double() }}) / milliseconds_viewed
    end as rebuffering_ratio,
    case when bitrate_requests > 0
        then cast(encoded_bitrate_x_requests as {{ cloudflare_stream.type_double() }}) / bitrate_requests
    end as avg_encoded_bitrate
from delivery
