"""Who is calling and what they may do: the foundation every subgraph shares.

- ``keys``: signing keys and the JWKS
- ``tokens``: access tokens and ``Claims``
- ``scopes``: the scope catalogue
- ``callers``: caller identification (bearer token or API key)
- ``revocation``: revoked sessions
- ``profiles``: the viewing profile a caller acts for
"""
