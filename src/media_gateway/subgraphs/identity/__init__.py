"""The identity subgraph's domain: services and models.

Put together into a GraphQL subgraph by `media_gateway.assembly.identity`.
"""
