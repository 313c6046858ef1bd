// The processes the gateway benchmark measures, one per role so they compete for the CPU the
// way a real deployment does: `upstream` (the fixture SDK MCP server), and three front ends to
// it — `gateway` (the real gateway: its bearer check against SQLite, then the proxy),
// `portcullis` (a Map-based opaque-token check, then the MCP endpoint's node:http fast path),
// `portcullis-fetch` (the same through the fetch-style `handle`), `http-proxy` (static bearer).
// Each prints one JSON line `{ "url": …, "token": … }` on stdout once it listens, then answers
// each `cpu` line on stdin with its CPU time so far (µs), so the run can charge CPU per call.
import { hash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { createLoopbackInteraction } from '../../src/client/loopback.js';
import { startDevGateway } from '../../src/gateway/dev.js';
import { createHttpUpstream } from '../../src/gateway/mcp/http-upstream.js';
import type { McpPrincipal } from '../../src/gateway/mcp/types.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { completeAuthorization } from '../../test/fixtures/browser-agent.js';
import { startMcpServer } from '../../test/fixtures/mcp-server.js';

const [role, upstreamUrl] = process.argv.slice(2);

async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

/**
 * A real opaque-token check, as the gateway will do it: SHA-256 of the bearer token (one-shot
 * `crypto.hash`, 3× cheaper here than `createHash`) looked up in a Map standing in for the
 * store, then expiry and audience. The lead swaps in the gateway's own handler later.
 */
function opaqueTokenCheck(resource: string) {
  const token = randomBytes(32).toString('base64url');
  const byHash = new Map<string, { principal: McpPrincipal; expiresAt: number; resource: string }>();
  const principal: McpPrincipal = {
    userId: 'bench-user',
    clientId: 'bench-client',
    scopes: ['mcp:read', 'mcp:write'],
    resource,
    claims: { sub: 'bench-user' },
    upstreamAccessToken: async () => 'upstream-token',
  };
  byHash.set(hash('sha256', token, 'base64url'), {
    principal,
    expiresAt: Date.now() + 3600_000,
    resource,
  });
  const check = (authorization: string | undefined | null): McpPrincipal | undefined => {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    const grant = byHash.get(hash('sha256', authorization.slice(7), 'base64url'));
    if (!grant || grant.expiresAt <= Date.now() || grant.resource !== resource) return undefined;
    return grant.principal;
  };
  return { token, check };
}

function unauthorized(res: http.ServerResponse) {
  res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
}

async function main() {
  if (role === 'upstream') {
    const server = await startMcpServer({ requireAuth: false });
    return { url: server.url, token: '' };
  }
  if (role === 'trivial-upstream') return { url: await listen(trivialMcpServer()), token: '' };
  if (!upstreamUrl) throw new Error('usage: servers.ts <role> <upstream url>');
  if (role === 'portcullis' || role === 'portcullis-fetch') {
    const endpoint = createHttpUpstream({ url: upstreamUrl, credential: 'upstream-token' });
    const server = http.createServer();
    const url = await listen(server);
    const { token, check } = opaqueTokenCheck(url);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const principal = check(req.headers.authorization);
      if (!principal) return unauthorized(res);
      if (role === 'portcullis') return void endpoint.handleNode!(req, res, principal);
      void serveFetch(endpoint, req, res, principal);
    });
    return { url, token };
  }
  if (role === 'gateway') return realGateway(upstreamUrl);
  if (role === 'node-pipe') {
    const token = randomBytes(32).toString('base64url');
    const u = new URL(upstreamUrl);
    const agent = new http.Agent({ keepAlive: true });
    const server = http.createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) return unauthorized(res);
      const options = {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: req.method,
        headers: req.headers,
        agent,
      };
      const up = http.request(options, (upRes) => {
        res.writeHead(upRes.statusCode!, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    return { url: await listen(server), token };
  }
  if (role === 'http-proxy') {
    const token = randomBytes(32).toString('base64url');
    const expected = `Bearer ${token}`;
    const agent = new http.Agent({ keepAlive: true });
    const proxy = httpProxy.createProxyServer({ target: upstreamUrl, agent, ignorePath: true });
    proxy.on('error', (_err, _req, res) => {
      if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
    });
    const server = http.createServer((req, res) => {
      if (req.headers.authorization !== expected) return unauthorized(res);
      proxy.web(req, res);
    });
    return { url: await listen(server), token };
  }
  throw new Error(`unknown role ${role}`);
}

/**
 * The real gateway (`startDevGateway`: SQLite store, dev IdP, its own node server with the
 * `/mcp` fast path) in front of the upstream, and a real access token for it, obtained the way a
 * client does: DCR, the dev IdP's login and the consent page (driven by the fixture's HTTP user
 * agent), the code exchange. Every benchmarked call then goes through the gateway's own bearer
 * check against the store (hash lookup, expiry, audience) before the proxy.
 */
async function realGateway(upstreamUrl: string) {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-gateway-'));
  const dev = await startDevGateway({ port: 0, stateDir, mcpUpstream: { http: upstreamUrl } });
  const store = createMemoryStore();
  const authFetch = createAuthFetch({
    serverUrl: dev.mcpUrl,
    store,
    interaction: createLoopbackInteraction({
      openBrowser: async (url) =>
        void (await completeAuthorization(url, { login: 'demo', password: 'bench' })),
    }),
  });
  await authFetch.authorize();
  const token = (await authFetch.authorizer.accessToken())?.accessToken;
  if (!token) throw new Error('the gateway issued no access token');
  return { url: dev.mcpUrl, token };
}

/**
 * `--upstream trivial`: answers like the SDK server on the wire (session id on initialize, 202
 * for notifications, SSE for requests) at almost no cost, so the proxies' own CPU stands out.
 */
function trivialMcpServer(): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const message = JSON.parse(body) as { id?: number; method: string; params?: { arguments?: unknown } };
      if (message.id === undefined) return void res.writeHead(202).end();
      const result =
        message.method === 'initialize'
          ? {
              protocolVersion: '2025-11-25',
              capabilities: { tools: {} },
              serverInfo: { name: 'trivial', version: '1' },
            }
          : {
              content: [{ type: 'text', text: (message.params?.arguments as { text?: string })?.text ?? '' }],
            };
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'mcp-session-id': 'trivial-session',
      });
      res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n\n`);
      res.end();
    });
  });
}

/** What a fetch-style framework adapter does around `handle`: Request in, Response streamed out. */
async function serveFetch(
  endpoint: ReturnType<typeof createHttpUpstream>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  principal: McpPrincipal,
) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  const init: RequestInit & { duplex: 'half' } = { method: req.method ?? 'GET', headers, duplex: 'half' };
  if (req.method === 'POST') init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  const response = await endpoint.handle(
    new Request(`http://${req.headers.host}${req.url}`, init),
    principal,
  );
  res.writeHead(response.status, [...response.headers].flat());
  if (!response.body) return void res.end();
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    res.write(value);
  }
  res.end();
}

const ready = await main();
process.stdout.write(`${JSON.stringify(ready)}\n`);
// The run owns this process: when its stdin closes (the run ended or died), exit.
process.stdin.on('end', () => process.exit(0));
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'exit') process.exit(0); // lets `--cpu-prof` write its profile
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${user + system}\n`);
});
