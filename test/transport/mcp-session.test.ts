import { afterEach, describe, expect, it } from 'vitest';
import { McpRequestError, openMcpSession } from '../../src/transport/mcp-session.js';
import { createStreamableHttpClient } from '../../src/transport/streamable-http.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { initResult, type ScriptedServer, sendJson, startScriptedServer } from './scripted-server.js';

let server: McpTestServer | undefined;
let scripted: ScriptedServer | undefined;
afterEach(async () => {
  await server?.stop();
  await scripted?.close();
  server = undefined;
  scripted = undefined;
});

describe('openMcpSession', () => {
  it('initializes, lists and calls tools, and ends the session on close', async () => {
    server = await startMcpServer({ requireAuth: false });
    const session = await openMcpSession({
      transport: createStreamableHttpClient({ url: server.url, fetch: globalThis.fetch }),
      clientInfo: { name: 'portcullis-test', version: '0' },
    });
    expect(session.serverInfo.name).toBe('portcullis-fixture');
    expect(session.protocolVersion).toBe('2025-11-25');
    const { tools } = await session.request<{ tools: { name: string }[] }>('tools/list');
    expect(tools.map((t) => t.name)).toContain('echo');
    const result = await session.request('tools/call', { name: 'add', arguments: { a: 2, b: 3 } });
    expect(result).toEqual({ content: [{ type: 'text', text: '5' }] });
    await session.close();
    await server.waitForRequest((r) => r.method === 'DELETE');
  });

  it("rejects with the server's JSON-RPC error", async () => {
    server = await startMcpServer({ requireAuth: false });
    const session = await openMcpSession({
      transport: createStreamableHttpClient({ url: server.url, fetch: globalThis.fetch }),
      clientInfo: { name: 't', version: '0' },
    });
    const error = await session.request('prompts/get', { name: 'nope' }).catch((e) => e);
    expect(error).toBeInstanceOf(McpRequestError);
    expect(typeof error.code).toBe('number');
    await session.close();
  });

  it('times a request out and tells the server with notifications/cancelled', async () => {
    scripted = await startScriptedServer((req, res) => {
      const m = req.json!;
      if (m['method'] === 'initialize') return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's' });
      if (m['method'] === 'tools/call') return; // never answered
      res.writeHead(m['id'] === undefined ? 202 : 405).end();
    });
    const session = await openMcpSession({
      transport: createStreamableHttpClient({ url: scripted.url, fetch: globalThis.fetch }),
      clientInfo: { name: 't', version: '0' },
    });
    const error = await session.request('tools/call', { name: 'slow' }, { timeoutMs: 50 }).catch((e) => e);
    expect(error).toMatchObject({ code: 'timeout' });
    const cancelled = await scripted.waitFor((r) => r.json?.['method'] === 'notifications/cancelled');
    expect((cancelled.json!['params'] as { requestId: number }).requestId).toBe(2);
    await session.close();
  });

  it('refuses a protocol version it does not speak', async () => {
    scripted = await startScriptedServer((req, res) =>
      sendJson(res, initResult(req.json!['id'], '1999-01-01')),
    );
    const error = await openMcpSession({
      transport: createStreamableHttpClient({ url: scripted.url, fetch: globalThis.fetch }),
      clientInfo: { name: 't', version: '0' },
    }).catch((e) => e);
    expect(error).toMatchObject({ code: 'unsupported_protocol_version' });
  });
});
