// When the HTTP leg fails, the host gets a JSON-RPC error for the request that caused it (or a clear
// stderr line for a notification), and stdout stays pure JSON-RPC.
import { afterEach, describe, expect, it } from 'vitest';
import { parseJsonRpcText } from '../../src/transport/jsonrpc.js';
import { initializeRequest, type RawBridge, spawnRaw, within } from '../bridge/harness.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import {
  initResult,
  openSse,
  type ScriptedServer,
  sendJson,
  startScriptedServer,
} from '../transport/scripted-server.js';

let bridge: RawBridge | undefined;
let scripted: ScriptedServer | undefined;
afterEach(async () => {
  bridge?.child.stdin.end();
  await bridge?.exited;
  await scripted?.close();
  bridge = undefined;
  scripted = undefined;
});

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** A server that initializes normally and answers tools/call as `onCall` says. */
async function misbehaving(onCall: Parameters<typeof startScriptedServer>[0]) {
  scripted = await startScriptedServer((req, res, raw) => {
    const m = req.json;
    if (req.method === 'GET') return void res.writeHead(405).end();
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    if (m?.['method'] === 'initialize') return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's1' });
    if (m?.['id'] === undefined) return void res.writeHead(202).end();
    return onCall(req, res, raw);
  });
  return scripted;
}

async function start(url: string, flags: string[] = []) {
  bridge = spawnRaw(url, flags);
  bridge.send(initializeRequest());
  await bridge.next((m) => m['id'] === 1);
  bridge.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return bridge;
}

describe('portcullis connect when the server misbehaves', () => {
  it('answers with server_unreachable when the server has vanished, and keeps running', async () => {
    const server = await startMcpServer({ requireAuth: false });
    const b = await start(server.url);
    await server.stop();
    b.send(call(2, 'echo', { text: 'x' }));
    const answer = await b.next((m) => m['id'] === 2);
    expect(answer).toMatchObject({ error: { code: -32000, data: { code: 'server_unreachable' } } });
    expect((answer['error'] as { message: string }).message).toMatch(/127\.0\.0\.1/);
    b.send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    expect(await b.next((m) => m['id'] === 3)).toMatchObject({
      error: { data: { code: 'server_unreachable' } },
    });
  });

  it('answers with malformed_response when the SSE stream carries a broken frame instead of the response', async () => {
    const s = await misbehaving((_req, res) => {
      openSse(res);
      res.write('event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{oops}\n\n');
      res.end();
    });
    const b = await start(s.url);
    b.send(call(2, 'anything'));
    expect(await b.next((m) => m['id'] === 2)).toMatchObject({
      error: { code: -32000, data: { code: 'malformed_response' } },
    });
  });

  it('answers with message_too_large when a response exceeds --max-message-bytes', async () => {
    const s = await misbehaving((req, res) =>
      sendJson(res, {
        jsonrpc: '2.0',
        id: req.json!['id'],
        result: { content: [{ type: 'text', text: 'y'.repeat(20_000) }] },
      }),
    );
    const b = await start(s.url, ['--max-message-bytes', '8192']);
    b.send(call(2, 'big'));
    expect(await b.next((m) => m['id'] === 2)).toMatchObject({
      error: { data: { code: 'message_too_large' } },
    });
  });

  it('answers with http_error and the status when the server fails a request', async () => {
    const s = await misbehaving((_req, res) => void res.writeHead(502).end('bad gateway'));
    const b = await start(s.url);
    b.send(call(2, 'x'));
    expect(await b.next((m) => m['id'] === 2)).toMatchObject({
      error: { data: { code: 'http_error', status: 502 } },
    });
  });

  it('says on stderr when a notification cannot be delivered', async () => {
    scripted = await startScriptedServer((req, res) => {
      const m = req.json;
      if (m?.['method'] === 'initialize')
        return sendJson(res, initResult(m['id']), { 'mcp-session-id': 's1' });
      if (req.method === 'POST' && m?.['id'] === undefined) return void res.writeHead(500).end('nope');
      res.writeHead(405).end();
    });
    bridge = spawnRaw(scripted.url);
    bridge.send(initializeRequest());
    await bridge.next((m) => m['id'] === 1);
    bridge.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await expect.poll(() => bridge!.stderr()).toMatch(/could not deliver notifications\/initialized/);
    expect(bridge.lines.every((l) => parseJsonRpcText(l).ok)).toBe(true);
  });

  it('refuses cleartext to a host that is not loopback without --allow-http, and says so on stderr only', async () => {
    const b = spawnRaw('http://mcp.example.com/mcp');
    const exit = await within(b.exited, 10_000, 'refusing to start');
    expect(exit.code).toBe(1);
    expect(b.stderr()).toMatch(/must use https/);
    expect(b.lines).toEqual([]);
  });
});
