"""Singer tap for Cloudflare Stream video analytics."""
