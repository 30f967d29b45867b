// Hive Gateway configuration: forward the client's x-request-id header to every subgraph.
export const gatewayConfig = {
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const id = request.headers.get("x-request-id");
      return id ? { "x-request-id": id } : {};
    },
  },
};
