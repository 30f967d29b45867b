"""Ingestion of platform feeds: one normalizer per platform to the canonical model, entity
resolution, availability sync with an outbox of changes, and a signed webhook."""
