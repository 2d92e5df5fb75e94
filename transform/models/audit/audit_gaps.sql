{#- The open gaps, for scripts: consecutive days of one (stream, account) with rows missing (macros/audit.sql). -#}
{{ cloudflare_stream.audit_gaps_sql() }}
