"""The platform layer: settings, logging, Redis, rate limiting, text folding, content ratings
and the other building blocks every part of the product shares.

Nothing here knows GraphQL, a subgraph or the router; the router (`media_gateway.gateway`) may
import this package and nothing else of the product.
"""
