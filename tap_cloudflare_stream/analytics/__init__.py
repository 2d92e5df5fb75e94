"""GraphQL Analytics datasets: declarations, queries, windows, seek paging, decoding, the stream."""
