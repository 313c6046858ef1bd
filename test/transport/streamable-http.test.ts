import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/transport/errors.js';
import type { JsonRpcMessage } from '../../src/transport/jsonrpc.js';
import { createStreamableHttpClient } from '../../src/transport/streamable-http.js';
import type { McpClientTransport } from '../../src/transport/types.js';
import {
  type Handler,
  initResult,
  openSse,
  type ScriptedServer,
  sendJson,
  sseEvent,
  startScriptedServer,
} from './scripted-server.js';

const init = (id: number | string = 1, protocolVersion = '2025-11-25') => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } },
});
const call = (id: number, name = 'echo', args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

let servers: ScriptedServer[] = [];
let transports: McpClientTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  transports = [];
});

async function setup(handler: Handler, maxMessageBytes?: number) {
  const server = await startScriptedServer(handler);
  servers.push(server);
  const received: JsonRpcMessage[] = [];
  const transport = createStreamableHttpClient({
    url: server.url,
    fetch: globalThis.fetch,
    headers: { 'X-Api-Key': 'k1', Accept: 'text/html' },
    reconnect: { initialDelayMs: 10, maxRetries: 3 },
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  transport.onmessage = (m) => received.push(m);
  transports.push(transport);
  return { server, transport, received };
}

/** A 2025-11-25 server: session s1, JSON answers, echo over SSE, no GET stream. */
const statefulServer: Handler = (req, res) => {
  if (req.method === 'GET') return void res.writeHead(405).end();
  if (req.method === 'DELETE') return void res.writeHead(200).end();
  const m = req.json!;
  if (m['method'] === 'initialize') return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's1' });
  if (m['id'] === undefined) return void res.writeHead(202).end();
  openSse(res);
  sseEvent(res, {
    jsonrpc: '2.0',
    method: 'notifications/progress',
    params: { progress: 1, progressToken: 1 },
  });
  sseEvent(res, { jsonrpc: '2.0', id: m['id'], result: { content: [] } });
  res.end();
};

describe('Streamable HTTP client', () => {
  it('POSTs with both Accept types, remembers the session and negotiated version, and sends them after initialize', async () => {
    const { server, transport, received } = await setup(statefulServer);
    await transport.send(init());
    expect(transport.sessionId).toBe('s1');
    expect(transport.protocolVersion).toBe('2025-11-25');
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await transport.send(call(2));
    expect(received.map((m) => ('method' in m ? m.method : m.id))).toEqual([1, 'notifications/progress', 2]);
    const [first, , third] = server.requests.filter((r) => r.method === 'POST');
    expect(first?.headers['accept']).toBe('application/json, text/event-stream');
    expect(first?.headers['x-api-key']).toBe('k1');
    expect(first?.headers['mcp-session-id']).toBeUndefined();
    expect(first?.headers['mcp-protocol-version']).toBeUndefined();
    expect(third?.headers['mcp-session-id']).toBe('s1');
    expect(third?.headers['mcp-protocol-version']).toBe('2025-11-25');
    // Pre-2026 revisions get none of the 2026 headers.
    expect(third?.headers['mcp-method']).toBeUndefined();
  });

  it('ends the session with DELETE on close', async () => {
    const { server, transport } = await setup(statefulServer);
    await transport.send(init());
    await transport.close();
    const del = await server.waitFor((r) => r.method === 'DELETE');
    expect(del.headers['mcp-session-id']).toBe('s1');
  });

  it('reports a 404 to a request with a session id as session_expired, and starts the next initialize without it', async () => {
    let expired = 0;
    let sessions = 0;
    const { server, transport } = await setup((req, res) => {
      const m = req.json!;
      if (m['method'] === 'initialize')
        return sendJson(res, initResult(m['id']), { 'mcp-session-id': `s${++sessions}` });
      if (req.headers['mcp-session-id'] === 's1')
        return sendJson(
          res,
          { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } },
          {},
          404,
        );
      return sendJson(res, { jsonrpc: '2.0', id: m['id'], result: {} });
    });
    transport.onsessionexpired = () => expired++;
    await transport.send(init());
    const error = await transport.send(call(2)).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'session_expired', status: 404, sessionId: 's1' });
    expect(expired).toBe(1);
    expect(transport.sessionId).toBeUndefined();
    await transport.send(init(3));
    await transport.send(call(4));
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts.at(-2)?.headers['mcp-session-id']).toBeUndefined();
    expect(posts.at(-1)?.headers['mcp-session-id']).toBe('s2');
  });

  it('tells an old HTTP+SSE server (405 to the first POST) apart from a modern one', async () => {
    const { transport } = await setup((_req, res) => void res.writeHead(405).end('Method Not Allowed'));
    const error = await transport.send(init()).catch((e) => e);
    expect(error).toMatchObject({ code: 'not_streamable_http', status: 405 });
  });

  it("hands a modern server's JSON-RPC error body to the caller as the request's answer", async () => {
    const { transport, received } = await setup((_req, res) =>
      sendJson(
        res,
        { jsonrpc: '2.0', id: null, error: { code: -32022, message: 'Unsupported protocol version' } },
        {},
        400,
      ),
    );
    await transport.send(init(9));
    expect(received).toEqual([
      { jsonrpc: '2.0', id: 9, error: { code: -32022, message: 'Unsupported protocol version' } },
    ]);
  });

  it('fails a request whose SSE stream ends without a response and without an event id', async () => {
    const { transport } = await setup((_req, res) => {
      openSse(res);
      sseEvent(res, {
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'info', data: 'x' },
      });
      res.end();
    });
    const error = await transport.send(call(1)).catch((e) => e);
    expect(error).toMatchObject({ code: 'malformed_response' });
  });

  it('fails a request with the malformed frame it got instead of a response', async () => {
    const { transport } = await setup((_req, res) => {
      openSse(res);
      res.write('data: {"jsonrpc":"2.0","id":1,"result":\n\n');
      res.end();
    });
    const error = await transport.send(call(1)).catch((e) => e);
    expect(error).toMatchObject({ code: 'malformed_response' });
    expect(error.message).toMatch(/malformed message/);
  });

  it('fails a request whose response exceeds the size limit, in JSON and in SSE', async () => {
    const big = { jsonrpc: '2.0', id: 1, result: { text: 'x'.repeat(10_000) } };
    const json = await setup((_req, res) => sendJson(res, big), 4096);
    expect(await json.transport.send(call(1)).catch((e) => e)).toMatchObject({ code: 'message_too_large' });
    const sse = await setup((_req, res) => {
      openSse(res);
      sseEvent(res, big);
      res.end();
    }, 4096);
    expect(await sse.transport.send(call(1)).catch((e) => e)).toMatchObject({ code: 'message_too_large' });
  });

  it('resumes a POST stream that drops before its response with GET and Last-Event-ID, after the retry delay', async () => {
    const { server, transport, received } = await setup((req, res) => {
      const m = req.json;
      if (m?.['method'] === 'initialize')
        return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's1' });
      if (req.method === 'GET' && req.headers['last-event-id'] === 'ev-1') {
        openSse(res);
        sseEvent(res, { jsonrpc: '2.0', id: 5, result: { resumed: true } }, { id: 'ev-2' });
        return; // left open: the client closes a resumed stream once it is done with it
      }
      if (req.method === 'GET') return void res.writeHead(405).end();
      openSse(res);
      res.write('id: ev-1\nretry: 20\ndata: \n\n');
      setTimeout(() => res.end(), 10);
    });
    await transport.send(init());
    await transport.send(call(5));
    expect(received.at(-1)).toEqual({ jsonrpc: '2.0', id: 5, result: { resumed: true } });
    const get = server.requests.find((r) => r.method === 'GET' && r.headers['last-event-id'] !== undefined);
    expect(get?.headers['last-event-id']).toBe('ev-1');
    expect(get?.headers['mcp-session-id']).toBe('s1');
    expect(get?.headers['accept']).toBe('text/event-stream');
  });

  it('opens the GET stream once initialized and delivers server-initiated messages from it', async () => {
    const { server, transport, received } = await setup((req, res) => {
      const m = req.json;
      if (m?.['method'] === 'initialize')
        return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's1' });
      if (req.method === 'GET') {
        openSse(res);
        sseEvent(res, { jsonrpc: '2.0', method: 'notifications/tools/list_changed' }, { id: 'g1' });
        sseEvent(res, { jsonrpc: '2.0', id: 'srv-1', method: 'ping' }, { id: 'g2' });
        return;
      }
      res.writeHead(202).end();
    });
    await transport.send(init());
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await server.waitFor((r) => r.method === 'GET');
    await expect.poll(() => received.length).toBe(3);
    expect(received.slice(1)).toEqual([
      { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
      { jsonrpc: '2.0', id: 'srv-1', method: 'ping' },
    ]);
  });

  it('speaks the stateless 2026-07-28 revision: standard and custom headers, no session, no GET stream', async () => {
    const tools = [
      {
        name: 'valid_tool',
        inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
      },
      {
        name: 'invalid_number',
        inputSchema: { type: 'object', properties: { s: { type: 'number', 'x-mcp-header': 'Score' } } },
      },
    ];
    const { server, transport, received } = await setup((req, res) => {
      const m = req.json!;
      if (m['method'] === 'initialize')
        return sendJson(res, initResult(m['id'], '2026-07-28'), { 'mcp-session-id': 'ignored' });
      if (m['method'] === 'tools/list')
        return sendJson(res, { jsonrpc: '2.0', id: m['id'], result: { tools } });
      if (m['id'] === undefined) return void res.writeHead(202).end();
      return sendJson(res, { jsonrpc: '2.0', id: m['id'], result: {} });
    });
    await transport.send(init(1, '2026-07-28'));
    await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await transport.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await transport.send(call(3, 'valid_tool', { region: ' eu west ' }));
    await transport.close();

    expect(transport.sessionId).toBeUndefined();
    const listed = received.find((m) => 'id' in m && m.id === 2) as unknown as {
      result: { tools: { name: string }[] };
    };
    expect(listed.result.tools.map((t) => t.name)).toEqual(['valid_tool']);
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.headers['mcp-method'])).toEqual([
      'initialize',
      'notifications/initialized',
      'tools/list',
      'tools/call',
    ]);
    expect(posts.every((r) => r.headers['mcp-protocol-version'] === '2026-07-28')).toBe(true);
    expect(posts.every((r) => r.headers['mcp-session-id'] === undefined)).toBe(true);
    expect(posts[3]?.headers['mcp-name']).toBe('valid_tool');
    expect(posts[3]?.headers['mcp-param-region']).toBe(
      `=?base64?${Buffer.from(' eu west ').toString('base64')}?=`,
    );
    expect(server.requests.some((r) => r.method === 'GET' || r.method === 'DELETE')).toBe(false);
  });

  it("mirrors a message's _meta protocol version into MCP-Protocol-Version", async () => {
    const { server, transport } = await setup((req, res) =>
      sendJson(res, { jsonrpc: '2.0', id: req.json!['id'], result: {} }),
    );
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    await transport.send({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } });
    expect(server.requests[0]?.headers['mcp-protocol-version']).toBe('2026-07-28');
    expect(server.requests[0]?.headers['mcp-method']).toBe('server/discover');
  });

  it('fails what is in flight with closed when closed', async () => {
    const { transport } = await setup(() => {}); // never answers
    const pending = transport.send(call(1));
    await new Promise((r) => setTimeout(r, 20));
    await transport.close();
    expect(await pending.catch((e) => e)).toMatchObject({ code: 'closed' });
  });
});
