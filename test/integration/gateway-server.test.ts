// The node:http server around the gateway, on 127.0.0.1:0: health, streamed responses through
// the fetch-style path, the client's token never reaching the MCP side, and a graceful shutdown
// that ends open streams through the MCP side's close() and then stops.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/gateway/gateway.js';
import type { McpEndpoint, McpPrincipal } from '../../src/gateway/mcp/types.js';
import { type GatewayServer, startGatewayServer } from '../../src/gateway/server.js';

/** An MCP side whose GET opens an SSE stream that stays open until close(). */
function streamingEndpoint() {
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const seen: Array<{ authorization: string | null; principal: McpPrincipal }> = [];
  let closed = false;
  const endpoint: McpEndpoint = {
    async handle(request, principal) {
      seen.push({ authorization: request.headers.get('authorization'), principal });
      if (request.method !== 'GET') return Response.json({ jsonrpc: '2.0', id: 1, result: {} });
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          open.add(controller);
          controller.enqueue(new TextEncoder().encode(': stream open\n\n'));
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    },
    async close() {
      closed = true;
      for (const c of open) c.close();
      open.clear();
    },
  };
  return { endpoint, seen, isClosed: () => closed };
}

let running: GatewayServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** The gateway's own server in front of `endpoint`, and an access token for it. */
async function serveGateway(endpoint: McpEndpoint) {
  let gatewayRef: ReturnType<typeof createGateway> | undefined;
  const server = await startGatewayServer(() => gatewayRef);
  running = server;
  const gateway = createGateway(
    { issuer: server.url, dev: true, upstream: { type: 'dev', users: [{ username: 'demo' }] } },
    { mcpEndpoint: endpoint, encryptionKey: randomBytes(32) },
  );
  gatewayRef = gateway;
  // A grant straight from the token model: this test is about the server, not the flow.
  const { tokens } = await gateway.internals.ctx.grants.issue({
    clientId: 'static',
    userId: 'demo',
    scopes: ['mcp'],
    resource: gateway.config.resource,
    claims: { sub: 'demo' },
    withRefreshToken: false,
  });
  return { server, gateway, token: tokens.access_token };
}

async function setup() {
  const mcp = streamingEndpoint();
  return { ...(await serveGateway(mcp.endpoint)), mcp };
}

describe('startGatewayServer', () => {
  it('answers /healthz and binds to 127.0.0.1 by default', async () => {
    const { server } = await setup();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('streams an SSE response, strips the client token, and drains the stream on close', async () => {
    const { server, gateway, mcp, token } = await setup();
    const response = await fetch(gateway.config.resource, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe(': stream open\n\n');
    expect(mcp.seen[0]!.authorization).toBeNull();
    expect(mcp.seen[0]!.principal.userId).toBe('demo');

    const closing = server.close();
    const end = await reader.read(); // the MCP side ended the stream; the response completes
    expect(end.done).toBe(true);
    await closing;
    expect(mcp.isClosed()).toBe(true);
    running = undefined;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it("hands a custom node:http MCP side neither the client's token nor its raw header", async () => {
    const seen: Array<{ headers: Record<string, unknown>; raw: string[]; url: string | undefined }> = [];
    const endpoint: McpEndpoint = {
      handle: async () => new Response(null, { status: 500 }), // the node fast path is taken instead
      async handleNode(req, res) {
        seen.push({ headers: { ...req.headers }, raw: [...req.rawHeaders], url: req.url });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      },
      async close() {},
    };
    const { gateway, token } = await serveGateway(endpoint);
    const response = await fetch(`${gateway.config.resource}?access_token=${token}&keep=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(JSON.stringify(seen[0])).not.toContain(token);
    expect(seen[0]!.headers['authorization']).toBeUndefined();
    expect(seen[0]!.raw.map((h) => h.toLowerCase())).not.toContain('authorization');
    expect(seen[0]!.url).toBe('/mcp?keep=1');
  });

  it('refuses an oversized body on an AS endpoint with 413 before reading it all', async () => {
    const { server } = await setup();
    const response = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], padding: 'x'.repeat(200_000) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('renders the 401 challenge for a request without a token', async () => {
    const { gateway } = await setup();
    const response = await fetch(gateway.config.resource, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('resource_metadata=');
  });
});
