{#-
  One row per (account_id, date, video_id): cmcd_hourly's delivery measures over the UTC day
  (macros/cmcd_delivery.sql), with the video's name from the current catalog (null when the
  video has no name or is no longer in it). The table a daily quality-of-experience
  dashboard reads.
-#}
select
    delivery.account_id,
    delivery.date,
    delivery.video_id,
    videos.name,
    delivery.requests,
    delivery.milliseconds_viewed,
    delivery.buffer_starvation_milliseconds,
    delivery.rebuffering_ratio,
    delivery.avg_encoded_bitrate_kbps,
    delivery.avg_measured_throughput_kbps,
    delivery.avg_startup_milliseconds
from (
    {{ cloudflare_stream.cmcd_delivery('cast(datetime_hour as date)', 'date') }}
) as delivery
left join {{ ref('stg_videos') }} as videos
    on videos.account_id = delivery.account_id and videos.uid = delivery.video_id
