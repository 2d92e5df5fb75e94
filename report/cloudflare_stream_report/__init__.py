"""A self-contained HTML report of tap-cloudflare-stream's dbt models in a DuckDB file."""
