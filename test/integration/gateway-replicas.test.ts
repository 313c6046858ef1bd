// Two gateway replicas in front of one real SDK MCP server over HTTP, sharing a store and the
// encryption key, as behind a load balancer without sticky routing: an MCP session opened through
// one replica continues through the other (the session-binding secret is derived from the key),
// a replica with another key refuses it, and a revocation made on one replica reaches the other
// within the access-token cache time (docs/decisions/0021).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { openGateway } from '../../src/gateway/open.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { testClock } from '../gateway/helpers.js';

const ISSUER = 'https://gateway.example.test';
const MCP_URL = `${ISSUER}/mcp`;

function rpc(id: number, method: string, params: Record<string, unknown> = {}) {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

describe('gateway replicas sharing a store and a key', () => {
  let upstream: McpTestServer;
  let store: Store;
  const clock = testClock(Date.now());
  const key = randomBytes(32);
  const replicas: Gateway[] = [];

  const open = (encryptionKey: Uint8Array) =>
    openGateway(
      {
        issuer: ISSUER,
        upstream: { type: 'dev', users: [{ username: 'alice' }] },
        mcpUpstream: { http: upstream.url },
        store: 'memory:',
      },
      { store, encryptionKey, clock: clock.now },
    ).then((gw) => {
      replicas.push(gw);
      return gw;
    });

  const post = (gw: Gateway, token: string, body: string, session?: string) =>
    gw.handle(
      new Request(MCP_URL, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          ...(session ? { 'mcp-session-id': session } : {}),
        },
        body,
      }),
    );

  async function tokenFrom(gw: Gateway) {
    const { tokens, grant } = await gw.internals.ctx.grants.issue({
      clientId: 'replica-test-client',
      userId: 'alice',
      scopes: ['mcp'],
      resource: MCP_URL,
      claims: { sub: 'alice' },
      withRefreshToken: true,
    });
    return { token: tokens.access_token, grantId: grant.id };
  }

  beforeAll(async () => {
    upstream = await startMcpServer({ requireAuth: false });
    store = createMemoryStore({ clock: clock.now });
  });
  afterAll(async () => {
    for (const gw of replicas) await gw.close();
    await upstream.stop();
  });

  it('continues an MCP session opened on one replica through another', async () => {
    const a = await open(key);
    const b = await open(key);
    const { token } = await tokenFrom(a);
    const init = await post(
      a,
      token,
      rpc(1, 'initialize', {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'replica-test', version: '1' },
      }),
    );
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id');
    expect(session).toMatch(/\.[A-Za-z0-9_-]{22}$/); // bound to alice by the gateway
    await init.text();
    const ack = await post(
      b,
      token,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      session!,
    );
    expect(ack.status).toBe(202);
    const call = await post(
      b,
      token,
      rpc(2, 'tools/call', { name: 'echo', arguments: { text: 'via b' } }),
      session!,
    );
    expect(call.status).toBe(200);
    expect(await call.text()).toContain('via b');

    // A replica with another key cannot check the binding: to it the session does not exist.
    const stranger = await open(randomBytes(32));
    const refused = await post(stranger, token, rpc(3, 'tools/list'), session!);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ error: { code: -32001 } });
  });

  it('refuses a token revoked on another replica once the cache time has passed', async () => {
    const a = await open(key);
    const b = await open(key);
    const { token, grantId } = await tokenFrom(a);
    const list = (gw: Gateway) => post(gw, token, rpc(1, 'tools/list'));
    // Both replicas verify (and remember) the token: the call reaches the upstream, which
    // answers 400 for want of a session — an answer only an admitted request gets.
    const upstreamAnswer = { error: { message: 'Bad Request: No valid session ID provided' } };
    for (const gw of [a, b]) {
      const admitted = await list(gw);
      expect(admitted.status).toBe(400);
      expect(await admitted.json()).toMatchObject(upstreamAnswer);
    }
    await a.internals.ctx.grants.revoke(grantId);
    expect((await list(a)).status).toBe(401); // the revoking replica: at once
    clock.advance(5_000); // b: within accessTokenCacheSeconds (5 s by default)
    const late = await list(b);
    expect(late.status).toBe(401);
    expect(late.headers.get('www-authenticate')).toContain('invalid_token');
  });
});
