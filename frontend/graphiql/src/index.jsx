// GraphiQL for the Media Gateway: the editor, the explorer plugin, and a fetcher that speaks
// GraphQL over HTTP (JSON POST) and graphql-transport-ws for subscriptions (the Headers tab
// sent as the connection_init payload).
//
// The server renders the page and passes its settings as JSON in
// <script id="graphiql-config" type="application/json">:
//   { "endpoint": "/graphql", "subscriptionEndpoint": "/graphql" | null,
//     "defaultQuery": "...", "title": "..." }
import './workers.js';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { getOperationAST } from 'graphql';
import { createClient } from 'graphql-ws';
import React from 'react';
import { createRoot } from 'react-dom/client';

import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';

function readConfig() {
  const element = document.getElementById('graphiql-config');
  if (!element) return {};
  try {
    return JSON.parse(element.textContent || '{}');
  } catch {
    return {};
  }
}

// Resolve a path such as "/graphql" against the page, with ws:// or wss:// to match http(s).
function toWebSocketUrl(endpoint) {
  const url = new URL(endpoint, window.location.href);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.href;
}

const config = readConfig();
const endpoint = new URL(config.endpoint || '/graphql', window.location.href).href;

// Queries and mutations: JSON POSTs with the Headers tab's headers. Incremental delivery:
// @defer and @stream results arrive as multipart/mixed parts that GraphiQL merges into the
// response pane as they come.
const httpFetcher = createGraphiQLFetcher({ url: endpoint, enableIncrementalDelivery: true });

// Subscriptions: graphql-transport-ws, where credentials travel in the connection_init
// payload, not in HTTP headers. The Headers tab is that payload, so there is one client per set
// of headers; each connects lazily, on its first subscription, and closes when it has none.
const wsClients = new Map();

function wsClientFor(headers) {
  const params = headers && typeof headers === 'object' ? headers : {};
  const key = JSON.stringify(params);
  let client = wsClients.get(key);
  if (!client) {
    client = createClient({
      url: toWebSocketUrl(config.subscriptionEndpoint),
      lazy: true,
      retryAttempts: 3,
      connectionParams: params,
    });
    wsClients.set(key, client);
  }
  return client;
}

function isSubscription(params, opts) {
  if (!opts || !opts.documentAST) return false;
  const operation = getOperationAST(opts.documentAST, params.operationName || undefined);
  return operation !== null && operation !== undefined && operation.operation === 'subscription';
}

// A refused connection closes the socket (4403 for a refused token): say so in the result
// pane rather than "[object CloseEvent]".
async function* subscribe(params, headers) {
  try {
    yield* wsClientFor(headers).iterate(params);
  } catch (error) {
    if (typeof CloseEvent !== 'undefined' && error instanceof CloseEvent) {
      throw new Error(`The server closed the connection: ${error.code} ${error.reason}`.trim());
    }
    throw error;
  }
}

function fetcher(params, opts) {
  if (config.subscriptionEndpoint && isSubscription(params, opts)) {
    return subscribe(params, opts.headers);
  }
  return httpFetcher(params, opts);
}

const plugins = [HISTORY_PLUGIN, explorerPlugin()];

function App() {
  return (
    <GraphiQL
      fetcher={fetcher}
      plugins={plugins}
      defaultQuery={config.defaultQuery}
      defaultEditorToolsVisibility
    />
  );
}

const root = createRoot(document.getElementById('graphiql'));
root.render(<App />);
