{#-
  "Current" for a listed catalog table (videos, live_inputs), the same SQL on every warehouse
  and with any loader (docs/deletions.md). Every raw row carries the listing that saw it
  (listing_id: the listing's UTC start as text, which sorts as time does), and catalog_listings
  says which listings were complete. Per account, with L the greatest listing_id of its complete
  listings of this table, the current items are the rows with listing_id >= L: what L saw, and
  what any later listing saw (complete or not: an item a later, incomplete listing missed still
  carries L, so it stays). An account without a complete listing keeps every row. Of an item's
  rows (a loader that appends keeps one per listing), the one with the greatest listing_id.
  _sdc_deleted_at is ignored: a loader's deletion marks are a convenience, not the truth.
-#}

{% macro current_catalog(table_name) -%}
  {%- set relation = cloudflare_stream.loaded_source(table_name) -%}
  {#- Rows loaded before listing_id existed (and never listed since) have none. -#}
  {%- set listed = relation is none or not var('introspect_sources', true)
        or cloudflare_stream.has_column(relation, 'listing_id') -%}
with

rows_loaded as (
    select
        raw.*
        {%- if not listed %},
        cast(null as {{ dbt.type_string() }}) as listing_id
        {%- endif %}
    from {{ cloudflare_stream.stream_source(table_name) }} as raw
),

latest_complete as (
    select account_id, max(listing_id) as listing_id
    from {{ cloudflare_stream.stream_source('catalog_listings') }} as listings
    where stream = '{{ table_name }}' and complete
    group by account_id
),

newest as (
    select
        rows_loaded.*,
        max(listing_id) over (partition by account_id, uid) as newest_listing_id
    from rows_loaded
)

select newest.*
from newest
left join latest_complete
    on latest_complete.account_id = newest.account_id
where coalesce(newest.listing_id, '') = coalesce(newest.newest_listing_id, '')
    and (
        latest_complete.listing_id is null
        or newest.listing_id >= latest_complete.listing_id
    )
{%- endmacro %}
