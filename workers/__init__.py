"""Background jobs (arq): alert emails drained from the outbox."""
