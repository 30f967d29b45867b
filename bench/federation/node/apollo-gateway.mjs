// Apollo Gateway (@apollo/gateway on @apollo/server) serving a supergraph file.
// usage: node apollo-gateway.mjs SUPERGRAPH PORT
// The client's x-request-id header is forwarded to every subgraph fetch.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";

const [supergraphPath, port] = process.argv.slice(2);

class ForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    const id = context.requestId;
    if (id) request.http.headers.set("x-request-id", id);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphPath, "utf8"),
  buildService: ({ url }) => new ForwardingDataSource({ url }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(port) },
  context: async ({ req }) => ({ requestId: req.headers["x-request-id"] }),
});
console.log(`apollo gateway ready at ${url}`);
