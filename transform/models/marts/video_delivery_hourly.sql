{#-
  One row per (account_id, datetime_hour, video_id) from cmcd_hourly: the delivery measures of
  macros/cmcd_delivery.sql (request-weighted means, never averages of averages).
-#}
{{ cloudflare_stream.cmcd_delivery('datetime_hour', 'datetime_hour') }}
