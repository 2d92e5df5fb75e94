{#-
  One row per (account_id, datetime_hour, input_id) from live_input_events_hourly, whose rows
  also split by event code: segments are summed over the codes, the per-segment averages are
  weighted by segments. avg_bit_rate (Cloudflare's avg.bitRateHour, "per-second bit rate when
  grouped by datetimeHour") is each code's share of the bits stored in the hour over its 3,600
  seconds, so the input's bit rate is their sum. The input's name is from the current catalog.
-#}
with

ingest as (
    select
        account_id,
        datetime_hour,
        input_id,
        sum(segments) as segments,
        sum(avg_bit_rate) as bit_rate_bps,
        sum(avg_gop_duration * segments) as gop_duration_total,
        sum(case when avg_gop_duration is not null then segments end) as gop_duration_segments,
        sum(avg_gop_upload_time * segments) as gop_upload_time_total,
        sum(case when avg_gop_upload_time is not null then segments end)
            as gop_upload_time_segments,
        sum(avg_upload_duration_ratio * segments) as upload_duration_ratio_total,
        sum(case when avg_upload_duration_ratio is not null then segments end)
            as upload_duration_ratio_segments
    from {{ cloudflare_stream.stream_source('live_input_events_hourly') }} as raw
    group by account_id, datetime_hour, input_id
)

select
    ingest.account_id,
    ingest.datetime_hour,
    ingest.input_id,
    live_inputs.name,
    cast(ingest.segments as {{ dbt.type_bigint() }}) as segments,
    cast(ingest.bit_rate_bps as {{ cloudflare_stream.type_double() }}) as bit_rate_bps,
    case when ingest.gop_duration_segments > 0
        then cast(ingest.gop_duration_total as {{ cloudflare_stream.type_double() }})
            / ingest.gop_duration_segments
    end as avg_gop_duration,
    case when ingest.gop_upload_time_segments > 0
        then cast(ingest.gop_upload_time_total as {{ cloudflare_stream.type_double() }})
            / ingest.gop_upload_time_segments
    end as avg_gop_upload_time,
    case when ingest.upload_duration_ratio_segments > 0
        then cast(ingest.upload_duration_ratio_total as {{ cloudflare_stream.type_double() }})
            / ingest.upload_duration_ratio_segments
    end as avg_upload_duration_ratio
from ingest
left join {{ ref('stg_live_inputs') }} as live_inputs
    on live_inputs.account_id = ingest.account_id and live_inputs.uid = ingest.input_id
