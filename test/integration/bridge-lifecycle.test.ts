// The bridge as a process: stdout purity, bad host input, and ending promptly when the host
// closes stdin or sends a signal, with the session DELETEd on the way out.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJsonRpcText } from '../../src/transport/jsonrpc.js';
import { initializeRequest, spawnRaw, within } from '../bridge/harness.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';

let server: McpTestServer;
beforeEach(async () => {
  server = await startMcpServer({ requireAuth: false });
});
afterEach(async () => {
  await server.stop();
});

async function initialized(flags: string[] = []) {
  const bridge = spawnRaw(server.url, flags);
  bridge.send(initializeRequest());
  await bridge.next((m) => m['id'] === 1);
  bridge.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return bridge;
}

describe('portcullis connect as a process', () => {
  it('writes nothing but JSON-RPC lines to stdout, even with debug logging on', async () => {
    const bridge = await initialized(['--log-level', 'debug']);
    bridge.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    bridge.send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'a\nb' } },
    });
    bridge.send('not json at all\n');
    await bridge.next((m) => m['id'] === 3);
    await bridge.next((m) => m['id'] === null);
    bridge.child.stdin.end();
    await bridge.exited;
    expect(bridge.lines.length).toBeGreaterThanOrEqual(4);
    for (const line of bridge.lines) expect(parseJsonRpcText(line).ok, line).toBe(true);
    expect(bridge.stderr()).toMatch(/"level":20/); // the debug logs went to stderr
  });

  it('answers malformed host input with JSON-RPC errors and keeps serving', async () => {
    const bridge = spawnRaw(server.url);
    bridge.send('{"jsonrpc":"2.0","id":1,"method":\n');
    const parseError = await bridge.next((m) => (m['error'] as { code?: number })?.code === -32700);
    expect(parseError).toMatchObject({ jsonrpc: '2.0', id: null });
    bridge.send({ jsonrpc: '2.0', id: 'x', params: {} });
    expect(await bridge.next((m) => m['id'] === 'x')).toMatchObject({ error: { code: -32600 } });
    bridge.send(initializeRequest(2));
    expect(await bridge.next((m) => m['id'] === 2)).toMatchObject({
      result: { protocolVersion: '2025-11-25' },
    });
    bridge.child.stdin.end();
    await bridge.exited;
  });

  it('ends the session and exits within 1 s when the host closes stdin', async () => {
    const bridge = await initialized();
    await server.waitForRequest((r) => r.method === 'GET' && r.status === 200); // a live GET stream, too
    bridge.child.stdin.end();
    const exit = await within(bridge.exited, 1000, 'exiting after stdin closed');
    expect(exit).toEqual({ code: 0, signal: null });
    const del = await server.waitForRequest((r) => r.method === 'DELETE');
    expect(del.sessionId).toBeDefined();
    expect(bridge.lines.every((l) => parseJsonRpcText(l).ok)).toBe(true);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('ends the session and exits within 1 s on %s', async (signal) => {
    const bridge = await initialized();
    await server.waitForRequest((r) => r.method === 'GET' && r.status === 200);
    bridge.child.kill(signal);
    const exit = await within(bridge.exited, 1000, `exiting on ${signal}`);
    expect(exit.code).toBe(0);
    await server.waitForRequest((r) => r.method === 'DELETE');
  });
});
