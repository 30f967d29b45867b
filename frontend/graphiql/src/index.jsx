// GraphiQL for the Media Gateway: the editor, the explorer plugin, and a fetcher that speaks
// GraphQL over HTTP (JSON POST) and graphql-transport-ws for subscriptions.
//
// The server renders the page and passes its settings as JSON in
// <script id="graphiql-config" type="application/json">:
//   { "endpoint": "/graphql", "subscriptionEndpoint": "/graphql" | null,
//     "defaultQuery": "...", "title": "..." }
import './workers.js';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
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

// Incremental delivery: @defer and @stream results arrive as multipart/mixed parts that
// GraphiQL merges into the response pane as they come.
const fetcherOptions = { url: endpoint, enableIncrementalDelivery: true };
if (config.subscriptionEndpoint) {
  // graphql-ws speaks the graphql-transport-ws sub-protocol; the client connects lazily,
  // on the first subscription.
  fetcherOptions.wsClient = createClient({
    url: toWebSocketUrl(config.subscriptionEndpoint),
    lazy: true,
    retryAttempts: 3,
  });
}

const fetcher = createGraphiQLFetcher(fetcherOptions);
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
