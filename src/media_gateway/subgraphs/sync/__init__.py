"""The sync subgraph's domain: services and models.

Put together into a GraphQL subgraph by `media_gateway.assembly.sync`.
"""
