{#-
  A double-precision float. dbt.type_float() is one everywhere except DuckDB, where FLOAT is
  4-byte REAL (7 digits): too coarse for ratios of minutes and milliseconds.
-#}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'cloudflare_stream')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
  {{ return(dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
  {{ return('double') }}
{%- endmacro %}
