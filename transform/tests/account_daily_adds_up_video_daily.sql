{#- account_daily holds every (account_id, date) of video_daily, with the same totals. -#}
with per_day as (
    select account_id, date, sum(views) as views, sum(time_viewed_minutes) as time_viewed_minutes,
        sum(minutes_viewed) as minutes_viewed
    from {{ ref('video_daily') }}
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
