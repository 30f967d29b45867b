// Drive a GraphQL server with the graphql-ws reference client and report what happened.
//
//   node graphql-ws-client.mjs '{"url": "ws://...", "connectionParams": {...},
//                                "query": "subscription { ... }", "variables": {},
//                                "results": 1, "timeoutMs": 5000}'
//
// Prints one JSON object: {"results": [...], "errors": [...], "closed": {"code", "reason"}}.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const options = JSON.parse(process.argv[2]);
const report = { acknowledged: false, results: [], errors: [], closed: null };
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0);
}

const client = createClient({
  url: options.url,
  webSocketImpl: WebSocket,
  connectionParams: options.connectionParams ?? undefined,
  retryAttempts: 0,
  lazy: false,
  on: {
    connected: () => {
      report.acknowledged = true;
    },
    closed: (event) => {
      report.closed = { code: event.code, reason: String(event.reason ?? "") };
      setTimeout(finish, 50);
    },
  },
  onNonLazyError: () => {},
});

if (options.query) {
  client.subscribe(
    { query: options.query, variables: options.variables ?? {} },
    {
      next: (value) => {
        report.results.push(value);
        if (report.results.length >= (options.results ?? 1)) {
          client.dispose();
        }
      },
      error: (error) => {
        report.errors.push(
          Array.isArray(error) ? error : { code: error?.code, reason: String(error?.reason ?? error) },
        );
        setTimeout(finish, 50);
      },
      complete: () => {
        client.dispose();
      },
    },
  );
}

setTimeout(() => {
  report.timedOut = true;
  finish();
}, options.timeoutMs ?? 5000);
