"""Assembly: each subgraph put together from its domain services, GraphQL schema, loaders
and context into an ASGI app. The only place that sees every layer of a subgraph."""
