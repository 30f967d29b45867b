// Runs one query with @defer through Apollo Client against the gateway and reports what the
// client saw: every result its watchQuery emitted (data, dataState, error) with the time it
// arrived, as one JSON line on stdout.
//
// Options (JSON, first argument):
//   url        the gateway's GraphQL endpoint
//   query      the operation
//   variables  its variables (optional)
//   transport  "multipart" (Apollo's HttpLink) or "sse" (graphql-sse's client in a link)
//   errorPolicy  Apollo's error policy (default "all")
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";
import { print } from "graphql";
import { createClient } from "graphql-sse";
import { Observable } from "rxjs";

const options = JSON.parse(process.argv[2]);

function sseLink(url) {
  const client = createClient({ url, retryAttempts: 0 });
  return new ApolloLink(
    (operation) =>
      new Observable((observer) =>
        client.subscribe(
          {
            query: print(operation.query),
            variables: operation.variables,
            operationName: operation.operationName,
          },
          {
            next: (value) => observer.next(value),
            error: (error) => observer.error(error),
            complete: () => observer.complete(),
          },
        ),
      ),
  );
}

const link =
  options.transport === "sse" ? sseLink(options.url) : new HttpLink({ uri: options.url });
const client = new ApolloClient({
  link,
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

const started = Date.now();
const results = [];
const report = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ results, timedOut: true }), 20000);
  const observable = client.watchQuery({
    query: gql(options.query),
    variables: options.variables ?? {},
    fetchPolicy: "network-only",
    errorPolicy: options.errorPolicy ?? "all",
  });
  const subscription = observable.subscribe({
    next: (result) => {
      results.push({
        ms: Date.now() - started,
        data: result.data ?? null,
        dataState: result.dataState,
        loading: result.loading,
        error: result.error ? String(result.error.message ?? result.error) : null,
      });
      if (!result.loading) {
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve({ results, timedOut: false });
      }
    },
    error: (error) => {
      clearTimeout(timer);
      resolve({ results, timedOut: false, failed: String(error.message ?? error) });
    },
  });
});

client.stop();
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
