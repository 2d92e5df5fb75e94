{#-
  Reconciliation of the warehouse with the tap's audit trail (`sync_audit`, docs/audit.md).

  The tap writes, per run, how many RECORD messages it emitted per (stream, account, day, and
  for the catalog streams listing). For the latest audit of each (stream, account, day) (of
  each (stream, account) for a catalog stream: its latest listing; for catalog_listings every
  listing of the account's latest run), the raw table must hold that many rows:
  - `listing_id`: a catalog stream whose raw table has the listing_id column: the rows that
    carry the listing (exact);
  - `extracted_at`: a raw table with _sdc_extracted_at: the rows of that (account, day)
    extracted since the audited run started (exact: rows of that run only);
  - `day_rows`: otherwise every row of that (account, day) (at least that many).
  A gap is fewer rows than the tap emitted. Every macro here builds its SQL from the sources
  alone, so the check, the models and the `audit_gaps_json` operation read the raw tables as
  they are now and create nothing (parallel jobs can run them at once).
-#}

{% macro audited_streams() -%}
  {#- The raw tables reconciled, and the column whose UTC day an audit row counts (none: per listing). -#}
  {{- return([
      {'name': 'video_playback_events', 'day_column': 'date'},
      {'name': 'video_buffer_events', 'day_column': 'date'},
      {'name': 'video_quality_events', 'day_column': 'date'},
      {'name': 'minutes_viewed', 'day_column': 'date'},
      {'name': 'storage_usage', 'day_column': 'date'},
      {'name': 'cmcd_hourly', 'day_column': 'datetime_hour'},
      {'name': 'live_input_events_hourly', 'day_column': 'datetime_hour'},
      {'name': 'videos', 'day_column': none},
      {'name': 'live_inputs', 'day_column': none},
      {'name': 'catalog_listings', 'day_column': none, 'whole_run': true},
  ]) -}}
{%- endmacro %}


{% macro audit_listing_streams() -%}
  {{- return(cloudflare_stream.audited_streams() | selectattr('day_column', 'none') | map(attribute='name') | list) -}}
{%- endmacro %}


{% macro audit_whole_run_streams() -%}
  {#- Streams whose every row of an account's latest run is checked (catalog_listings: each listing's row). -#}
  {{- return(cloudflare_stream.audited_streams() | selectattr('whole_run', 'defined') | map(attribute='name') | list) -}}
{%- endmacro %}


{% macro audit_latest_sql() -%}
{#-
  The latest audit of each (stream, account, day); of each (stream, account) for a catalog
  stream (its latest listing); for catalog_listings, every listing of the account's latest run
  that listed it (a later listing supersedes a lost row, so a heal's listing closes its gap).
-#}
{%- set listings = cloudflare_stream.audit_listing_streams() -%}
{%- set whole_run = cloudflare_stream.audit_whole_run_streams() -%}
{%- set ignore_before = var('audit_ignore_days_before', none) -%}
select run_id, run_started_at, stream, account_id, day, listing_id, rows_emitted
from (
    select
        audits.*,
        case when stream in ('{{ whole_run | join("', '") }}') then dense_rank() over (
            partition by stream, account_id
            order by run_started_at desc, run_id desc
        ) else row_number() over (
            partition by stream, account_id, scope_day
            order by run_started_at desc, listing_id desc, run_id desc
        ) end as recency
    from (
        select
            run_id,
            cast(run_started_at as {{ dbt.type_timestamp() }}) as run_started_at,
            stream,
            account_id,
            cast(day as date) as day,
            listing_id,
            rows_emitted,
            case when stream in ('{{ listings | join("', '") }}') then cast(null as date)
                else cast(day as date) end as scope_day
        from {{ cloudflare_stream.stream_source('sync_audit') }} as sync_audit
        {%- if ignore_before %}
        where cast(day as date) >= cast('{{ ignore_before }}' as date)
        {%- endif %}
    ) as audits
) as ranked
where recency = 1
{%- endmacro %}


{% macro audit_reconciliation_sql() -%}
{#- Each latest audit with the rows the raw table holds for it, and how they were counted. -#}
with latest as (
    {{ cloudflare_stream.audit_latest_sql() | indent(4) }}
)
{%- for stream in cloudflare_stream.audited_streams() %}
{%- set raw = cloudflare_stream.loaded_source(stream.name) -%}
{%- if stream.day_column is none and cloudflare_stream.has_column(raw, 'listing_id') -%}
  {%- set how = 'listing_id' -%}
{%- elif cloudflare_stream.has_column(raw, '_sdc_extracted_at') -%}
  {%- set how = 'extracted_at' -%}
{%- else -%}
  {%- set how = 'day_rows' -%}
{%- endif %}
select
    latest.stream,
    latest.account_id,
    latest.day,
    latest.listing_id,
    latest.run_id,
    latest.run_started_at,
    latest.rows_emitted,
    count(raw.account_id) as rows_found,
    '{{ how }}' as counted_by
from latest
left join {{ cloudflare_stream.stream_source(stream.name) }} as raw
    on raw.account_id = latest.account_id
    {%- if how == 'listing_id' %}
    and raw.listing_id = latest.listing_id
    {%- else %}
    {%- if stream.day_column is not none %}
    and cast(raw.{{ stream.day_column }} as date) = latest.day
    {%- endif %}
    {%- if how == 'extracted_at' %}
    and cast(raw._sdc_extracted_at as {{ dbt.type_timestamp() }}) >= latest.run_started_at
    {%- endif %}
    {%- endif %}
where latest.stream = '{{ stream.name }}'
group by latest.stream, latest.account_id, latest.day, latest.listing_id, latest.run_id,
    latest.run_started_at, latest.rows_emitted
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endmacro %}


{% macro audit_gaps_sql() -%}
{#- The open gaps: consecutive days of one (stream, account) with fewer rows than the tap emitted. -#}
with reconciliation as (
    {{ cloudflare_stream.audit_reconciliation_sql() | indent(4) }}
),

missing as (
    select
        stream,
        account_id,
        day,
        rows_emitted,
        rows_emitted - rows_found as missing_rows,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'day', 'day') }}
            - row_number() over (partition by stream, account_id order by day) as island
    from reconciliation
    where rows_found < rows_emitted
)

select
    stream,
    account_id,
    min(day) as first_day,
    max(day) as last_day,
    count(*) as days,
    sum(missing_rows) as missing_rows,
    sum(rows_emitted) as rows_emitted
from missing
group by stream, account_id, island
{%- endmacro %}


{% macro audit_gap_rows() -%}
  {#- The open gaps as dicts (stream, account_id, first_day, last_day, days, missing_rows, rows_emitted), in order. -#}
  {%- set query -%}
    select stream, account_id,
        cast(first_day as {{ dbt.type_string() }}) as first_day,
        cast(last_day as {{ dbt.type_string() }}) as last_day,
        days, missing_rows, rows_emitted
    from (
        {{ cloudflare_stream.audit_gaps_sql() }}
    ) as gaps
    order by stream, account_id, first_day
  {%- endset -%}
  {%- set gaps = [] -%}
  {%- for row in run_query(query).rows -%}
    {%- do gaps.append({
        'stream': row[0], 'account_id': row[1], 'first_day': row[2], 'last_day': row[3],
        'days': row[4] | int, 'missing_rows': row[5] | int, 'rows_emitted': row[6] | int,
    }) -%}
  {%- endfor -%}
  {{- return(gaps) -}}
{%- endmacro %}


{% macro audit_heal_command(gap) -%}
  {#- README's heal command for one gap, with this warehouse's loader and dbt utility. -#}
  {{- return(
      "TAP_CLOUDFLARE_STREAM_START_DATE=" ~ gap.first_day
      ~ " TAP_CLOUDFLARE_STREAM_END_DATE=" ~ gap.last_day
      ~ " TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS='[\"" ~ gap.account_id ~ "\"]'"
      ~ " meltano run --full-refresh --no-state-update tap-cloudflare-stream target-"
      ~ target.type ~ " dbt-" ~ target.type ~ ":build") -}}
{%- endmacro %}


{% macro audit_gaps_json() -%}
  {#-
    `dbt run-operation audit_gaps_json`: one line `cloudflare_stream_audit_gaps: {"gaps": [...]}`
    on stdout, for scripts (examples/github-actions/heal_gaps.py). Fails when the audit or a
    raw table cannot be read.
  -#}
  {{- print('cloudflare_stream_audit_gaps: ' ~ tojson({'gaps': cloudflare_stream.audit_gap_rows()})) -}}
{%- endmacro %}
