"""A general Apollo Federation v2 router: supergraph, planner, executor, transports.

Nothing in this package knows about media; it serves any supergraph.
"""
