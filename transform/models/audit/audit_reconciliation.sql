{#- Each latest audit with the rows the raw table holds for it (macros/audit.sql). -#}
{{ cloudflare_stream.audit_reconciliation_sql() }}
