{#-
  One row per (account_id, month): the Stream bill estimated from what the tap loaded, before
  Cloudflare sends it. Stream bills two things (https://developers.cloudflare.com/stream/pricing/):
  minutes delivered, post-paid (the minutes_viewed stream is Cloudflare's billing dataset), and
  storage, prepaid in blocks of minutes (storage_usage's total_storage_minutes_limit). Prices
  are the vars stream_usd_per_1000_minutes_delivered and stream_usd_per_1000_minutes_stored.

  Built on account_daily: its days are the days with delivery or a storage reading. The
  account's latest such day stands for today: its month is in progress, and its delivery is
  projected linearly to the month's end from the days so far (the latest day counted whole).
  Storage is the month's last reading (none when the month has no reading).
-#}
{%- set delivered_price = var('stream_usd_per_1000_minutes_delivered') -%}
{%- set stored_price = var('stream_usd_per_1000_minutes_stored') -%}
{%- set double = cloudflare_stream.type_double() -%}
with

days as (
    select
        account_id,
        date,
        {{ cloudflare_stream.month_of('date') }} as month,
        minutes_viewed,
        total_storage_minutes,
        total_storage_minutes_limit,
        storage_read_on
    from {{ ref('account_daily') }}
),

latest as (
    select account_id, max(date) as as_of from days group by account_id
),

months as (
    select
        account_id,
        month,
        min(date) as first_loaded_day,
        max(date) as last_loaded_day,
        sum(minutes_viewed) as minutes_delivered
    from days
    group by account_id, month
),

counted as (
    select
        months.account_id,
        months.month,
        months.first_loaded_day,
        months.last_loaded_day,
        months.minutes_delivered,
        {{ cloudflare_stream.month_of('latest.as_of') }} = months.month as in_progress,
        {{ dbt.datediff('months.month', dbt.dateadd('month', 1, 'months.month'), 'day') }}
            as days_in_month,
        {{ dbt.datediff('months.month', 'latest.as_of', 'day') }} + 1 as days_to_latest,
        -- the last day's storage is the last reading on or before it: this month's, if any
        case when month_end.storage_read_on >= months.month
            then month_end.storage_read_on end as storage_read_on,
        case when month_end.storage_read_on >= months.month
            then month_end.total_storage_minutes end as total_storage_minutes,
        case when month_end.storage_read_on >= months.month
            then month_end.total_storage_minutes_limit end as total_storage_minutes_limit
    from months
    inner join latest on latest.account_id = months.account_id
    inner join days as month_end
        on month_end.account_id = months.account_id and month_end.date = months.last_loaded_day
),

priced as (
    select
        account_id,
        month,
        in_progress,
        first_loaded_day,
        last_loaded_day,
        days_in_month,
        case when in_progress then days_to_latest else days_in_month end as days_counted,
        minutes_delivered,
        cast(minutes_delivered as {{ double }}) / 1000 * {{ delivered_price }}
            as delivery_cost_usd,
        total_storage_minutes,
        total_storage_minutes_limit,
        storage_read_on,
        cast(total_storage_minutes_limit as {{ double }}) / 1000 * {{ stored_price }}
            as storage_cost_usd
    from counted
)

select
    account_id,
    month,
    in_progress,
    first_loaded_day,
    last_loaded_day,
    cast(days_counted as {{ dbt.type_bigint() }}) as days_counted,
    cast(days_in_month as {{ dbt.type_bigint() }}) as days_in_month,
    cast(minutes_delivered as {{ dbt.type_bigint() }}) as minutes_delivered,
    delivery_cost_usd,
    total_storage_minutes,
    total_storage_minutes_limit,
    storage_read_on,
    storage_cost_usd,
    delivery_cost_usd + coalesce(storage_cost_usd, 0) as cost_usd,
    cast(minutes_delivered as {{ double }}) * days_in_month / days_counted
        as projected_minutes_delivered,
    cast(minutes_delivered as {{ double }}) * days_in_month / days_counted / 1000
        * {{ delivered_price }} + coalesce(storage_cost_usd, 0) as projected_cost_usd
from priced
