// Run the GraphQL-over-HTTP server audits of the graphql-http package against a server and
// report every result.
//
//   node graphql-http-audit.mjs '{"url": "http://127.0.0.1:4000/graphql"}'
//
// Prints one JSON object: {"results": [{id, name, status, reason, httpStatus, body}]}.
// `status` is the audit's: "ok", or for a failure "error" (a MUST), "warn" (a SHOULD) or
// "notice" (a MAY). For failures, `httpStatus` and `body` (its first 500 characters) are
// what the server answered, when the audit left the body unread.
import { auditServer } from "graphql-http";

const options = JSON.parse(process.argv[2]);

async function describe(result) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status === "ok") return entry;
  entry.reason = result.reason;
  const response = result.response;
  if (response) {
    entry.httpStatus = response.status;
    entry.contentType = response.headers?.get("content-type") ?? null;
    try {
      entry.body = (await response.clone().text()).slice(0, 500);
    } catch {
      entry.body = null; // the audit read it already
    }
  }
  return entry;
}

const results = await auditServer({ url: options.url, fetchFn: globalThis.fetch });
const report = { results: await Promise.all(results.map(describe)) };
process.stdout.write(JSON.stringify(report) + "\n");
