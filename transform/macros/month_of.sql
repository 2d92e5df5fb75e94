{#- The first day (a DATE) of the month of a date, on every warehouse. -#}
{% macro month_of(date_sql) -%}
  cast({{ dbt.date_trunc('month', date_sql) }} as date)
{%- endmacro %}
