"""The GraphQL Subscription roots of the subgraphs that have them, over the real-time log
(`media_gateway.realtime`)."""
