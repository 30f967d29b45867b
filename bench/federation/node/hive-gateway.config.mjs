// Hive Gateway configuration (with its JavaScript planner, or with the Rust one when started
// with --hive-router-runtime): forward the client's x-request-id header to every subgraph,
// and share identical in-flight subgraph requests (its default) unless BENCH_DEDUP=off.
export const gatewayConfig = {
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const id = request.headers.get("x-request-id");
      return id ? { "x-request-id": id } : {};
    },
  },
  transportEntries: {
    "*.http": {
      options: { deduplicateInflightRequests: process.env.BENCH_DEDUP !== "off" },
    },
  },
};
