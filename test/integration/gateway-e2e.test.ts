// The gateway end to end, as a third-party MCP host meets it: the SDK's own Client and
// StreamableHTTPClientTransport with an OAuthClientProvider of the SDK's shape (DCR, and a Client
// ID Metadata Document), → the gateway on a real socket → a real oidc-provider as the upstream
// IdP (type: 'oidc') → a real SDK MCP server over HTTP, and the stdio fixture server as one child
// per session. The fixture browser agent is the person: gateway consent, IdP login and consent.
// (gateway-oidc.test.ts covers the same path with oauth4webapi as the client; this file does not
// repeat its assertions. Refresh, rotation, revocation: gateway-e2e-tokens.test.ts; the CLI:
// gateway-e2e-cli.test.ts.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpUpstream } from '../../src/gateway/mcp/http-upstream.js';
import { createStdioUpstream, type StdioUpstream } from '../../src/gateway/mcp/stdio-upstream.js';
import type { Resolver } from '../../src/oauth/ssrf.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { stdioServerCommand } from '../fixtures/mcp-tools.js';
import {
  connectSdk,
  introspectAtIdp,
  MemoryOAuthProvider,
  pageText,
  type Stack,
  startStack,
  textOf,
} from './gateway-e2e-stack.js';

const CIMD_URL = 'https://client.example.test/oauth/metadata.json';
const CIMD_ADDRESS = '203.0.113.7'; // TEST-NET-3: public as far as the SSRF guard is concerned

let mcp: McpTestServer;
let stdio: StdioUpstream;
let stack: Stack<'http' | 'stdio' | 'stdioToken' | 'cimd'>;
let stateDir: string;
const providers: MemoryOAuthProvider[] = [];

// The CIMD host, answered by the gateway's injected resolver and fetch; everything else (the
// IdP traffic, which shares the `fetch` dependency) goes to the real network stack.
const resolved: string[] = [];
const cimdFetches: Array<{ url: string; method: string }> = [];
let cimdRedirectUri = '';
const resolver: Resolver = async (hostname) => {
  resolved.push(hostname);
  if (hostname === 'client.example.test') return [{ address: CIMD_ADDRESS, family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};
const cimdFetch: typeof fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  if (!url.startsWith('https://client.example.test/')) return fetch(input, init);
  cimdFetches.push({ url, method: init?.method ?? 'GET' });
  if (url !== CIMD_URL) return new Response('not found', { status: 404 });
  return Response.json(
    {
      client_id: CIMD_URL,
      client_name: 'Example CIMD Host',
      client_uri: 'https://client.example.test/',
      redirect_uris: [cimdRedirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    { headers: { 'cache-control': 'max-age=600' } },
  );
};

async function provider(opts: { clientMetadataUrl?: string } = {}): Promise<MemoryOAuthProvider> {
  const created = await MemoryOAuthProvider.create(opts);
  providers.push(created);
  return created;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'portcullis-e2e-'));
  mcp = await startMcpServer({ requireAuth: false });
  stack = await startStack({
    http: { mcpEndpoint: () => createHttpUpstream({ url: mcp.url, credential: 'upstream-token' }) },
    stdio: {
      mcpEndpoint: () => {
        stdio = createStdioUpstream({
          command: [stdioServerCommand.command, ...stdioServerCommand.args],
          env: { MCP_USER: '{{user.id}}' },
        });
        return stdio;
      },
      // The gateway's embedded default store.
      store: (clock) => createSqliteStore({ path: path.join(stateDir, 'gateway.db'), clock }),
    },
    // A child whose MCP_USER is the user's IdP access token: `whoami` shows what the child got.
    stdioToken: {
      mcpEndpoint: () =>
        createStdioUpstream({
          command: [stdioServerCommand.command, ...stdioServerCommand.args],
          env: { MCP_USER: '{{upstream.access_token}}' },
        }),
    },
    cimd: {
      mcpEndpoint: () => createHttpUpstream({ url: mcp.url, credential: 'upstream-token' }),
      deps: { fetch: cimdFetch, resolver },
    },
  });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.stop()));
  await stack?.stop();
  await mcp?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('the SDK client with its own OAuthClientProvider, through the gateway', () => {
  it('registers (DCR), is approved, signs in at the IdP and uses an HTTP MCP server that only ever sees the IdP token', async () => {
    const gw = stack.gateways.http;
    const host = await provider();
    const { client, transport } = await connectSdk(gw.mcpUrl, host);

    // DCR at the gateway, one trip through the browser, code + iss back at the loopback listener.
    const info = host.clientInformation();
    expect(info?.client_id).toMatch(/^dcr_/);
    expect(gw.served).toContainEqual({ method: 'POST', path: '/register', status: 201 });
    expect(host.authorizations).toHaveLength(1);
    expect(host.authorizations[0]!.origin).toBe(new URL(gw.issuer).origin);
    expect(host.authorizations[0]!.searchParams.get('resource')).toBe(gw.mcpUrl);
    expect(host.callbacks[0]!.searchParams.get('iss')).toBe(gw.issuer); // RFC 9207
    // The person saw the gateway's consent page for this app first, then the IdP's login.
    const consent = host.pages.find((p) => new URL(p.url).pathname === '/authorize');
    expect(pageText(consent?.html ?? '')).toContain('E2E SDK Host');
    expect(pageText(consent?.html ?? '')).toContain('Registered itself with this gateway');
    const consentAt = host.pages.indexOf(consent!);
    const idpLoginAt = host.pages.findIndex(
      (p) => p.url.startsWith(stack.idp.issuer) && /password/.test(p.html),
    );
    expect(idpLoginAt).toBeGreaterThan(consentAt);

    const held = host.tokens();
    expect(held?.access_token).toMatch(/^pca_/);
    expect(held?.refresh_token).toMatch(/^pcr_/);
    expect(transport.sessionId).toBeTruthy();

    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'whoami']),
    );
    const callsBefore = mcp.requests.length;
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'via the gateway' } }))).toBe(
      'via the gateway',
    );

    // R14: the MCP server was sent the user's IdP token, never the token the client holds.
    const seen = mcp.requests.slice(callsBefore).map((r) => r.authorization);
    expect(seen.length).toBeGreaterThan(0);
    for (const authorization of seen) {
      expect(authorization).toMatch(/^Bearer /);
      expect(authorization).not.toContain(held!.access_token);
      expect(authorization).not.toContain(held!.refresh_token!);
    }
    const upstream = await introspectAtIdp(stack.idp, mcp.lastAuthorization!.slice('Bearer '.length));
    expect(upstream).toMatchObject({ active: true, sub: 'alice', client_id: 'portcullis-gateway' });
    // And the gateway's token means nothing to the IdP.
    expect(await introspectAtIdp(stack.idp, held!.access_token)).toEqual({ active: false });
    await client.close();
  });

  it('registers (DCR) and reaches a stdio MCP server spawned as the signed-in user', async () => {
    const gw = stack.gateways.stdio;
    const host = await provider();
    const { client, transport } = await connectSdk(gw.mcpUrl, host);
    expect(host.clientInformation()?.client_id).toMatch(/^dcr_/);
    expect(host.authorizations).toHaveLength(1);

    const mine = stdio.sessions().filter((s) => s.userId === 'alice');
    expect(mine).toHaveLength(1); // one child for this session, keyed by the IdP subject
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'whoami']),
    );
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'over stdio' } }))).toBe(
      'over stdio',
    );
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');

    await transport.terminateSession(); // DELETE reaps the child
    expect(stdio.sessions().filter((s) => s.userId === 'alice')).toHaveLength(0);
    await client.close();
  });

  it('uses a Client ID Metadata Document: fetched once through the injected resolver and fetch, shown on the consent page', async () => {
    const gw = stack.gateways.cimd;
    const host = await provider({ clientMetadataUrl: CIMD_URL });
    cimdRedirectUri = host.redirectUrl;
    const { client } = await connectSdk(gw.mcpUrl, host);

    // The SDK saw client_id_metadata_document_supported and used the URL as its client_id: no DCR.
    expect(host.clientInformation()?.client_id).toBe(CIMD_URL);
    expect(host.authorizations[0]!.searchParams.get('client_id')).toBe(CIMD_URL);
    expect(gw.served.filter((r) => r.path === '/register')).toEqual([]);
    // Resolved through the SSRF guard's resolver, then fetched exactly once (authorize, code
    // exchange and the calls below all use the cached document).
    expect(resolved.filter((h) => h === 'client.example.test')).toHaveLength(1);
    expect(cimdFetches).toEqual([{ url: CIMD_URL, method: 'GET' }]);

    const consent = host.pages.find((p) => new URL(p.url).pathname === '/authorize');
    expect(consent?.status).toBe(200);
    const text = pageText(consent?.html ?? '');
    expect(text).toContain('Example CIMD Host');
    expect(text).toContain('Details published by client.example.test');
    expect(text).toContain('Client ID host client.example.test');

    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'cimd' } }))).toBe('cimd');
    expect(host.tokens()?.access_token).toMatch(/^pca_/);
    expect(cimdFetches).toHaveLength(1);
    await client.close();
  });

  it("refreshes the user's IdP token mid-session without the client noticing", async () => {
    const gw = stack.gateways.http;
    const host = await provider();
    const { client, transport } = await connectSdk(gw.mcpUrl, host);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'one' } }))).toBe('one');
    const firstUpstream = mcp.lastAuthorization!;
    const sessionId = transport.sessionId;
    const idpRefreshes = stack.idp.requests.grants('refresh_token');

    // The IdP's access token lives 300 s; the gateway's own access token 3600 s. Five minutes on,
    // only the upstream token is stale: the gateway refreshes it at the IdP before forwarding.
    gw.advance(301);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('two');
    expect(stack.idp.requests.grants('refresh_token')).toBe(idpRefreshes + 1);
    const secondUpstream = mcp.lastAuthorization!;
    expect(secondUpstream).not.toBe(firstUpstream);
    expect(await introspectAtIdp(stack.idp, secondUpstream.slice('Bearer '.length))).toMatchObject({
      active: true,
      sub: 'alice',
    });

    // The client noticed nothing: same tokens, no refresh of its own, no browser, same session.
    expect(host.savedTokens).toHaveLength(1);
    expect(host.authorizations).toHaveLength(1);
    expect(transport.sessionId).toBe(sessionId);
    // Once refreshed, the new IdP token is used as is: no second refresh for the next call.
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'three' } }))).toBe('three');
    expect(stack.idp.requests.grants('refresh_token')).toBe(idpRefreshes + 1);
    expect(mcp.lastAuthorization).toBe(secondUpstream);
    expect(stack.idp.serverErrors).toEqual([]);
    await client.close();
  });

  it("hands a stdio child the user's IdP token, refreshed by the gateway for the next session without the client noticing", async () => {
    const gw = stack.gateways.stdioToken;
    const host = await provider();
    const first = await connectSdk(gw.mcpUrl, host);
    const held = host.tokens()!;
    const firstToken = textOf(await first.client.callTool({ name: 'whoami', arguments: {} }));
    expect(firstToken).not.toContain(held.access_token); // R14 for stdio: never the gateway's token
    expect(await introspectAtIdp(stack.idp, firstToken)).toMatchObject({ active: true, sub: 'alice' });
    await first.transport.terminateSession();
    await first.client.close();

    // The env is rendered at spawn (docs/decisions/0020), so a new session after the IdP token
    // went stale is where the refreshed token shows.
    const idpRefreshes = stack.idp.requests.grants('refresh_token');
    gw.advance(301);
    const second = await connectSdk(gw.mcpUrl, host);
    const secondToken = textOf(await second.client.callTool({ name: 'whoami', arguments: {} }));
    expect(stack.idp.requests.grants('refresh_token')).toBe(idpRefreshes + 1);
    expect(secondToken).not.toBe(firstToken);
    expect(await introspectAtIdp(stack.idp, secondToken)).toMatchObject({ active: true, sub: 'alice' });
    expect(host.savedTokens).toEqual([held]); // the client's own tokens untouched
    expect(host.authorizations).toHaveLength(1);
    await second.transport.terminateSession();
    await second.client.close();
  });
});
