{#-
  Nothing lost between the tap and the warehouse: for the latest audit of every (stream,
  account, day), the raw table holds the rows the tap emitted (macros/audit.sql). Each gap is
  logged with the stream, the account, the days and the command that heals it; the test
  returns one row per gap. It reads the raw tables as they are now and needs no model built
  (`dbt test --select audited_rows_are_in_the_warehouse` runs alone); in `dbt build` it runs
  after the view audit_gaps (a test of it), so that view is built whatever the test finds.
-#}
{%- if execute and flags.WHICH in ('build', 'test', 'retry') and var('introspect_sources', true) %}
{#- Run by dbt build or dbt test: read the gaps now, log each, and return them. -#}
{%- set gaps = cloudflare_stream.audit_gap_rows() %}
{%- for gap in gaps %}
{%- set days = gap.first_day if gap.days == 1 else gap.first_day ~ '..' ~ gap.last_day %}
{{- log('Gap: stream ' ~ gap.stream ~ ', account ' ~ gap.account_id ~ ', ' ~ days ~ ': '
    ~ gap.missing_rows ~ ' of the ' ~ gap.rows_emitted ~ ' rows the tap emitted are missing. Heal: '
    ~ cloudflare_stream.audit_heal_command(gap), info=true) }}
{%- endfor %}
{%- for gap in gaps %}
select '{{ gap.stream }}' as stream, '{{ gap.account_id }}' as account_id,
    '{{ gap.first_day }}' as first_day, '{{ gap.last_day }}' as last_day,
    {{ gap.missing_rows }} as missing_rows
{% if not loop.last %}union all{% endif %}
{%- else %}
select 1 as no_gap from (select 1 as one) as nothing where 1 = 0
{%- endfor %}
{%- else %}
{#- Parsed or compiled (nothing asked of the warehouse): what it reads, and the view it tests. -#}
{%- do cloudflare_stream.audit_gaps_sql() %}
select * from {{ ref('audit_gaps') }}
{%- endif %}
