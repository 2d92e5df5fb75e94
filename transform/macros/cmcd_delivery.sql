{#-
  cmcd_hourly's delivery measures per account_id, video_id and a time column: `period` is its
  SQL, `period_alias` its name (video_delivery_hourly: the hour; video_delivery_daily: the day).
  The raw rows also split by country, stream type and streaming format. Counts and sums are
  summed. An average is never averaged: it is turned back into its total (average x requests),
  summed, and divided by the requests it covers, so the result is the mean over every request
  of the group. `viewers` and the percentiles cannot be combined at all and are left out.
-#}
{% macro cmcd_delivery(period, period_alias) -%}
select
    account_id,
    {{ period_alias }},
    video_id,
    cast(requests as {{ dbt.type_bigint() }}) as requests,
    cast(milliseconds_viewed as {{ dbt.type_bigint() }}) as milliseconds_viewed,
    cast(starvation_total as {{ cloudflare_stream.type_double() }})
        as buffer_starvation_milliseconds,
    case when milliseconds_viewed > 0 and starvation_requests > 0
        then cast(starvation_total as {{ cloudflare_stream.type_double() }}) / milliseconds_viewed
    end as rebuffering_ratio,
    case when bitrate_requests > 0
        then cast(bitrate_total as {{ cloudflare_stream.type_double() }}) / bitrate_requests
    end as avg_encoded_bitrate_kbps,
    case when throughput_requests > 0
        then cast(throughput_total as {{ cloudflare_stream.type_double() }}) / throughput_requests
    end as avg_measured_throughput_kbps,
    case when startup_requests > 0
        then cast(startup_total as {{ cloudflare_stream.type_double() }}) / startup_requests
    end as avg_startup_milliseconds
from (
    select
        account_id,
        {{ period }} as {{ period_alias }},
        video_id,
        sum(requests) as requests,
        sum(milliseconds_viewed) as milliseconds_viewed,
        sum(avg_buffer_starvation_duration * requests) as starvation_total,
        sum(case when avg_buffer_starvation_duration is not null then requests end)
            as starvation_requests,
        sum(avg_encoded_bitrate * requests) as bitrate_total,
        sum(case when avg_encoded_bitrate is not null then requests end) as bitrate_requests,
        sum(avg_measured_throughput * requests) as throughput_total,
        sum(case when avg_measured_throughput is not null then requests end)
            as throughput_requests,
        sum(avg_initial_buffer_starvation_duration * requests) as startup_total,
        sum(case when avg_initial_buffer_starvation_duration is not null then requests end)
            as startup_requests
    from {{ cloudflare_stream.stream_source('cmcd_hourly') }} as raw
    group by account_id, {{ period }}, video_id
) as totals
{%- endmacro %}
