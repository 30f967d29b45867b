"""The GraphQL roots of each subgraph: ``Query`` and ``Mutation``, thin calls into its services."""
