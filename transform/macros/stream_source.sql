{#-
  The tap's raw tables, read so that a model builds even when a stream was not loaded (not
  selected, or not yet run): such a table reads as empty, with the columns models/sources.yml
  declares, and a line in dbt's log says so. With var introspect_sources false, nothing is
  asked of the warehouse and every table is assumed loaded.
-#}

{% macro loaded_source(table_name) -%}
  {#- The source relation when the warehouse has it (or introspection is off), else none. -#}
  {%- set relation = source('cloudflare_stream', table_name) -%}
  {%- if execute and var('introspect_sources', true) -%}
    {%- if load_relation(relation) is none -%}
      {{- return(none) -}}
    {%- endif -%}
  {%- endif -%}
  {{- return(relation) -}}
{%- endmacro %}


{% macro stream_source(table_name) -%}
  {#- `from {{ stream_source('videos') }} as videos`: the table, or an empty stand-in for it. -#}
  {%- set relation = cloudflare_stream.loaded_source(table_name) -%}
  {%- if relation is none -%}
    {{- log('cloudflare_stream.' ~ table_name ~ ' is not loaded: ' ~ model.name ~ ' reads it as empty', info=true) -}}
    {{- return(cloudflare_stream.empty_source(table_name)) -}}
  {%- endif -%}
  {{- return(relation) -}}
{%- endmacro %}


{% macro empty_source(table_name) -%}
  {#- A subquery with no rows and the source table's declared columns and types. -#}
  {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', 'cloudflare_stream')
        | selectattr('name', 'equalto', table_name) | first -%}
  {%- set columns = [] -%}
  {%- for column in node.columns.values() -%}
    {%- do columns.append('cast(null as ' ~ cloudflare_stream.cross_db_type(column.data_type) ~ ') as ' ~ column.name) -%}
  {%- endfor -%}
  {{- return('(select ' ~ columns | join(', ') ~ ' from (select 1 as one) as nothing where 1 = 0)') -}}
{%- endmacro %}


{% macro cross_db_type(name) -%}
  {#- The warehouse's type for a cross-database type name of models/sources.yml. -#}
  {%- if name == 'string' or name == 'json' -%}{{ return(dbt.type_string()) }}
  {%- elif name == 'integer' -%}{{ return(dbt.type_bigint()) }}
  {%- elif name == 'float' -%}{{ return(cloudflare_stream.type_double()) }}
  {%- elif name == 'timestamp' -%}{{ return(dbt.type_timestamp()) }}
  {%- elif name == 'boolean' -%}{{ return(dbt.type_boolean()) }}
  {%- elif name == 'date' -%}{{ return('date') }}
  {%- else -%}{{ exceptions.raise_compiler_error('models/sources.yml: unknown data_type ' ~ name) }}
  {%- endif -%}
{%- endmacro %}


{% macro has_column(relation, column_name) -%}
  {#- True when a loaded relation has the column (false when introspection is off). -#}
  {%- if relation is none or not execute or not var('introspect_sources', true) -%}
    {{- return(false) -}}
  {%- endif -%}
  {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {{- return(column_name | lower in names) -}}
{%- endmacro %}
