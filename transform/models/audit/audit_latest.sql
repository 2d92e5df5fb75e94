{#- The latest audit of each (stream, account, day), of each (stream, account) for a catalog stream (macros/audit.sql). -#}
{{ cloudflare_stream.audit_latest_sql() }}
