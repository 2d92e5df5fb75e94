"""Stream's REST catalog: videos, live inputs and storage use, per account.

A REST resource is declared here and read by a `RESTStream` subclass that mixes in
`cloudflare.stream.CloudflareRequests` over the run's `CloudflareAPI.rest` session, so it shares
the credentials, retries and answer classification, and spends from the REST budget.
"""
