"""The playback subgraph's domain: services and models.

Put together into a GraphQL subgraph by `media_gateway.assembly.playback`.
"""
