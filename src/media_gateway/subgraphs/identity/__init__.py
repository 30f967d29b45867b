"""The identity subgraph's domain: one service per sub-domain over shared stores.

- ``accounts``: registration, email confirmation, account lookups
- ``signin``: signing in under the abuse policy; ``sessions``: tokens, refresh, sign-out,
  switching profile; ``revocations``: ending sessions everywhere
- ``credentials``: changing and resetting the password
- ``mfa``: two-step sign-in (TOTP and backup codes)
- ``profiles``: viewing profiles and their parental controls
- ``api_keys``: API keys for server-to-server clients
- ``oauth`` and ``http``: the device and authorization-code grants and their endpoints
- ``emails`` (over the ``mail`` outbox), ``codes``, ``passwords``, ``common``: what the
  sub-domains share; ``services``: all of them built together; ``demo``: the demo account

Put together into a GraphQL subgraph by `media_gateway.assembly.identity`.
"""
