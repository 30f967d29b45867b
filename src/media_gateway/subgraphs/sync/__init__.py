"""The sync subgraph's domain, one module per sub-domain.

- ``devices``: a member's devices (registering them, whose they are);
- ``watchlist``: each profile's watchlist, the replicated set behind it in ``watchlist_set``;
- ``progress``: each profile's replicated playback position per title;
- ``replication``: replaying a device's offline operations into both (rules in ``crdt``);
- ``presence``: which devices are connected, by leases renewed across processes;
- ``commands``: remote commands from one device to another;
- ``demo``: the demo account's watchlist and devices; ``services``: all of them made together.

Put together into a GraphQL subgraph by `media_gateway.assembly.sync`.
"""
