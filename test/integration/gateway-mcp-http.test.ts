// The gateway's HTTP upstream end to end: the SDK's own Client + StreamableHTTPClientTransport →
// a stand-in gateway (fake principal per bearer token) → createHttpUpstream → a header-recording
// tap → the fixture SDK Streamable HTTP server. Both the fetch-style and node:http paths.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpUpstream } from '../../src/gateway/mcp/http-upstream.js';
import type { McpEndpoint } from '../../src/gateway/mcp/types.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import {
  fakePrincipal,
  type Harness,
  type HarnessMode,
  startHarness,
  startTap,
} from '../gateway/mcp/harness.js';

type Tap = Awaited<ReturnType<typeof startTap>>;

const principals = {
  'alice-gateway-token': fakePrincipal('alice'),
  'bob-gateway-token': fakePrincipal('bob'),
};

async function connect(url: string, token: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'gateway-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } },
  });
  await client.connect(transport);
  return { client, transport };
}

/** The upstream's own session id inside the one the gateway handed out (`<id>.<tag>`). */
const upstreamIdOf = (sessionId: string) => sessionId.slice(0, sessionId.lastIndexOf('.'));

describe.each<HarnessMode>(['node', 'web'])('HTTP upstream, %s path', (mode) => {
  let upstream: McpTestServer;
  let tap: Tap;
  let endpoint: McpEndpoint;
  let gateway: Harness;

  beforeAll(async () => {
    upstream = await startMcpServer({ requireAuth: false });
    tap = await startTap(upstream.url);
    endpoint = createHttpUpstream({ url: tap.url, credential: 'upstream-token' });
    gateway = await startHarness(endpoint, principals, mode);
  });
  afterAll(async () => {
    await gateway.stop();
    await endpoint.close();
    await tap.stop();
    await upstream.stop();
  });

  it('serves the SDK client: initialize, tools/list, tools/call echo', async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{22}$/);
    expect(upstream.sessionIds).toContain(upstreamIdOf(transport.sessionId!));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo');
    expect(await client.callTool({ name: 'echo', arguments: { text: 'through the gateway' } })).toEqual({
      content: [{ type: 'text', text: 'through the gateway' }],
    });
    await client.close();
  });

  it('streams a tool result larger than 1 MiB', async () => {
    const { client } = await connect(gateway.url, 'alice-gateway-token');
    const bytes = 1024 * 1024 + 512 * 1024;
    const result = (await client.callTool({ name: 'big', arguments: { bytes } })) as {
      content: { text: string }[];
    };
    expect(result.content[0]!.text).toHaveLength(bytes);
    await client.close();
  });

  it('relays progress notifications ahead of the result on the POST stream', async () => {
    const { client } = await connect(gateway.url, 'alice-gateway-token');
    const seen: number[] = [];
    const result = await client.callTool({ name: 'progress', arguments: { steps: 4 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(result).toEqual({ content: [{ type: 'text', text: 'done after 4 steps' }] });
    await client.close();
  });

  it('keeps the GET stream open and delivers a server notification while it stays open', async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    const id = upstreamIdOf(transport.sessionId!);
    await upstream.waitForRequest((r) => r.method === 'GET' && r.status === 200 && r.sessionId === id);
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    await upstream.notifyListChanged();
    await changed; // arrived on a stream that has not ended: nothing was buffered to the end
    await client.close();
  });

  it('ends the session upstream with DELETE', async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    const id = upstreamIdOf(transport.sessionId!);
    await transport.terminateSession();
    expect(tap.requests.some((r) => r.method === 'DELETE' && r.headers['mcp-session-id'] === id)).toBe(true);
    expect(upstream.sessionIds).not.toContain(id);
    await client.close();
  });

  it("gives the upstream the user's upstream token, never the client's Authorization (R14)", async () => {
    const before = tap.requests.length;
    const { client } = await connect(gateway.url, 'alice-gateway-token');
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await client.close();
    const seen = tap.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const r of seen) {
      expect(r.headers.authorization).toBe('Bearer upstream-token-of-alice');
      expect(JSON.stringify(r.headers)).not.toContain('alice-gateway-token');
    }
  });

  it('sends identity headers that a client cannot spoof', async () => {
    const before = tap.requests.length;
    const { client } = await connect(gateway.url, 'bob-gateway-token', {
      'X-Portcullis-User': 'alice',
      'X-Portcullis-Scopes': 'admin',
      'X-Portcullis-Extra': 'injected',
    });
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await client.close();
    for (const r of tap.requests.slice(before)) {
      expect(r.headers['x-portcullis-user']).toBe('bob');
      expect(r.headers['x-portcullis-client']).toBe('client-of-bob');
      expect(r.headers['x-portcullis-scopes']).toBe('mcp:read mcp:write');
      expect(r.headers['x-portcullis-extra']).toBeUndefined();
    }
  });

  it("answers 404 when another user presents alice's session id, and forwards nothing (R18)", async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    const before = tap.requests.length;
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer bob-gateway-token',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32001 } });
    expect(tap.requests.slice(before).filter((r) => r.headers['x-portcullis-user'] === 'bob')).toEqual([]);
    await client.close();
  });

  it('aborts the upstream GET stream when the client goes away', async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    const id = upstreamIdOf(transport.sessionId!);
    await upstream.waitForRequest((r) => r.method === 'GET' && r.status === 200 && r.sessionId === id);
    const get = tap.requests.find((r) => r.method === 'GET' && r.headers['mcp-session-id'] === id)!;
    await client.close(); // aborts the SDK's GET fetch
    await get.closed; // the tap saw the upstream leg close: the gateway destroyed it
  });
});
