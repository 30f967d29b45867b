"""The playback subgraph's domain, one module per sub-domain.

- ``sessions``: playback sessions (start, progress, end), each change with its events;
- ``history``: resume points, continue-watching and the watch history (``resume``: the rules);
- ``outbox``: playback events written with each change and relayed to the bus and Kafka
  (``kafka``);
- ``demo``: the demo account's history; ``services``: all of them made together.

Put together into a GraphQL subgraph by `media_gateway.assembly.playback`.
"""
