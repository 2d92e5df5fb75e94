"""Cloudflare HTTP: credentials, request budgets, retries and what each answer means.

Every request of the tap goes through a `session.CloudflareSession`; streams of any family mix in
`stream.CloudflareRequests`, and other callers (the settings query) use `CloudflareSession.call`.
"""
