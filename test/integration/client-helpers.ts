// Shared parts of the client core's integration tests: the real servers (oidc-provider AS + SDK
// MCP server) on 127.0.0.1:0, a loopback login whose "browser" is the HTTP user agent, the SDK
// client on the auth-aware fetch, store snapshots, and child processes sharing a file store.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expect, onTestFinished } from 'vitest';
import { createLoopbackInteraction, type LoopbackOptions } from '../../src/client/loopback.js';
import { NS, readServerState, type TokenRecord, tokenKey } from '../../src/client/state.js';
import type { Interaction } from '../../src/client/types.js';
import type { Store } from '../../src/store/store.js';
import {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  DEFAULT_USERS,
  startAuthorizationServer,
} from '../fixtures/authorization-server.js';
import { type CompleteAuthorizationOptions, completeAuthorization } from '../fixtures/browser-agent.js';
import { type McpServerOptions, type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';

export const alice = { login: 'alice', password: DEFAULT_USERS['alice']!.password };

/** The real AS and a real MCP server it protects, stopped when the test ends. */
export async function startServers(
  opts: { as?: AuthorizationServerOptions; mcp?: Omit<McpServerOptions, 'authorizationServer'> } = {},
): Promise<{ as: AuthorizationServer; mcp: McpTestServer }> {
  const as = await startAuthorizationServer(opts.as);
  const mcp = await startMcpServer({
    authorizationServer: { issuer: as.issuer, jwksUri: as.jwksUri },
    ...opts.mcp,
  });
  onTestFinished(async () => {
    await mcp.stop();
    await as.stop();
  });
  onTestFinished(() => expect(as.serverErrors).toEqual([]));
  return { as, mcp };
}

/** Every authorization request (`/auth`, not the `/auth/<uid>` resumes) as the AS received it. */
export function recordAuthorizationRequests(as: AuthorizationServer): URL[] {
  const seen: URL[] = [];
  as.intercept((req) => {
    const url = new URL(req.url ?? '/', as.issuer);
    if (url.pathname === '/auth') seen.push(url);
    return false;
  });
  return seen;
}

/**
 * The loopback interaction, its browser being the HTTP user agent that logs in and consents.
 * If the agent fails, the login fails with its error instead of waiting for a callback.
 */
export function browserLogin(
  opts: { user?: CompleteAuthorizationOptions; loopback?: LoopbackOptions } = {},
): Interaction & { opened: URL[] } {
  const opened: URL[] = [];
  let agentFailed: (error: unknown) => void = () => {};
  const loopback = createLoopbackInteraction({
    ...opts.loopback,
    openBrowser: async (url) => {
      opened.push(url);
      await completeAuthorization(url, opts.user ?? alice).catch((error: unknown) => {
        agentFailed(error);
        throw error;
      });
    },
  });
  return {
    opened,
    redirectUri: (hint) => loopback.redirectUri(hint),
    authorize: (url, signal) =>
      Promise.race([
        loopback.authorize(url, signal),
        new Promise<never>((_resolve, reject) => {
          agentFailed = reject;
        }),
      ]),
    close: () => loopback.close?.() ?? Promise.resolve(),
  };
}

/** The SDK's Client over the SDK's Streamable HTTP transport, on the given fetch. */
export async function connectMcp(url: string, fetch: typeof globalThis.fetch): Promise<Client> {
  const client = new Client({ name: 'portcullis-integration', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }));
  onTestFinished(() => client.close());
  return client;
}

export async function callText(client: Client, name: string, args: Record<string, unknown> = {}) {
  const result = await client.callTool({ name, arguments: args });
  return (result.content as Array<{ type: string; text: string }>)[0]?.text;
}

export const echo = (client: Client, text: string) => callText(client, 'echo', { text });

/** Every entry of every namespace the client writes, for before/after comparisons. */
export async function snapshotStore(store: Store): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const ns of [...Object.values(NS), 'dpop']) {
    for (const key of (await store.list(ns)).sort()) out[`${ns} ${key}`] = await store.get(ns, key);
  }
  return out;
}

/** The stored tokens of a server, which must exist. */
export async function storedTokens(store: Store, serverUrl: string): Promise<TokenRecord> {
  const { tokens } = await readServerState(store, serverUrl);
  if (!tokens) throw new Error(`no tokens stored for ${serverUrl}`);
  return tokens;
}

/** Marks the stored access token expired (the AS still honours its refresh token). */
export async function expireStoredTokens(store: Store, serverUrl: string): Promise<void> {
  const tokens = await storedTokens(store, serverUrl);
  await store.set(NS.tokens, tokenKey(serverUrl, tokens.issuer), { ...tokens, expiresAt: Date.now() - 1000 });
}

/** A fresh state directory, removed when the test ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-client-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs client-child.ts in a new node process. With `waitForGo`, `ready` resolves once the child
 * has its auth fetch and waits; `go()` releases it, so several children start their calls together.
 */
export function spawnClientChild(args: {
  dir: string;
  serverUrl: string;
  text: string;
  waitForGo?: boolean;
}) {
  const script = fileURLToPath(new URL('./client-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill();
  });
  let stdout = '';
  let stderr = '';
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) readyResolve();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: stdout.replace(/^ready\n/, ''), stderr }));
  });
  // A child that dies before it is ready must not leave `ready` pending.
  void exit.then(() => readyResolve());
  return { ready, go: () => child.stdin.end('go\n'), exit };
}

/** A small 127.0.0.1 server with hand-written routes, for hostile or odd documents. */
export async function startRouteServer(
  routes: (origin: string) => Record<string, (req: IncomingMessage, res: ServerResponse) => void>,
): Promise<{ origin: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const table = routes(origin);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    hits.push(`${req.method} ${url.pathname}`);
    const route = table[url.pathname];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin, hits };
}

/** A fetch that records every URL it is asked for, then does the real thing. */
export function recordingFetch(): typeof fetch & { urls: string[] } {
  const urls: string[] = [];
  const recording = (input: string | URL | Request, init?: RequestInit) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return fetch(input, init);
  };
  return Object.assign(recording, { urls });
}
