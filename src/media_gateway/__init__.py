"""Media Gateway: a streaming-media GraphQL platform behind a Python federation gateway."""

__version__ = "0.1.0"
