import { afterEach, describe, expect, it } from 'vitest';
import { createClientTransport } from '../../src/transport/client-transport.js';
import type { JsonRpcMessage } from '../../src/transport/jsonrpc.js';
import { createLegacySseClient } from '../../src/transport/legacy-sse.js';
import type { McpClientTransport } from '../../src/transport/types.js';
import { type LegacyServer, startLegacyServer } from './legacy-server.js';
import { openSse, type ScriptedServer, sseEvent, startScriptedServer } from './scripted-server.js';

const init = (id: number | string = 1) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'initialize',
  params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } },
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function watch(t: McpClientTransport) {
  const received: JsonRpcMessage[] = [];
  t.onmessage = (m) => received.push(m);
  cleanups.push(() => t.close());
  return received;
}

async function legacy(): Promise<LegacyServer> {
  const server = await startLegacyServer();
  cleanups.push(() => server.stop());
  return server;
}

describe('HTTP+SSE (2024-11-05) client', () => {
  it('opens the stream, POSTs to the endpoint it names, and reads answers from the stream', async () => {
    const server = await legacy();
    const t = createLegacySseClient({ url: server.url, fetch: globalThis.fetch });
    const received = watch(t);
    await t.send(init());
    await t.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await t.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hi' } },
    });
    expect(t.protocolVersion).toBe('2024-11-05');
    expect(received.at(-1)).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ type: 'text', text: 'hi' }] },
    });
  });

  it('reports the lost stream as an ended session, and opens a new one on the next initialize', async () => {
    const server = await legacy();
    const t = createLegacySseClient({ url: server.url, fetch: globalThis.fetch });
    watch(t);
    let expired = 0;
    t.onsessionexpired = () => expired++;
    await t.send(init());
    await server.restart();
    await expect.poll(() => expired).toBe(1);
    await t.send(init(2));
    await t.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
  });

  it('refuses an endpoint event that points at another origin', async () => {
    const scripted: ScriptedServer = await startScriptedServer((_req, res) => {
      openSse(res);
      sseEvent(res, 'https://evil.example/messages', { event: 'endpoint' });
    }, '/sse');
    cleanups.push(() => scripted.close());
    const t = createLegacySseClient({ url: scripted.url, fetch: globalThis.fetch });
    watch(t);
    expect(await t.send(init()).catch((e) => e)).toMatchObject({ code: 'malformed_response' });
  });
});

describe('transport strategy', () => {
  it('http-first falls back to HTTP+SSE when the POST is answered the way an old server answers it', async () => {
    const server = await legacy();
    const t = createClientTransport({ url: server.url, fetch: globalThis.fetch, strategy: 'http-first' });
    const received = watch(t);
    await t.send(init());
    expect(t.kind).toBe('legacy-sse');
    expect(received[0]).toMatchObject({ id: 1, result: { protocolVersion: '2024-11-05' } });
  });

  it('http-only does not fall back, and says why', async () => {
    const server = await legacy();
    const t = createClientTransport({ url: server.url, fetch: globalThis.fetch, strategy: 'http-only' });
    watch(t);
    expect(await t.send(init()).catch((e) => e)).toMatchObject({ code: 'not_streamable_http', status: 404 });
  });
});
