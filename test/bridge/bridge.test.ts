// The bridge's routing over a scripted transport: what it replays, what it swallows, what it
// re-sends when the server ends the session, and what the host sees.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runBridge } from '../../src/bridge/bridge.js';
import { TransportError } from '../../src/transport/errors.js';
import { isRequest, type JsonRpcMessage } from '../../src/transport/jsonrpc.js';
import type { McpClientTransport } from '../../src/transport/types.js';

/** A server that answers everything at once and can drop its session. */
class ScriptedTransport implements McpClientTransport {
  readonly kind = 'streamable-http' as const;
  onmessage: McpClientTransport['onmessage'];
  onsessionexpired: McpClientTransport['onsessionexpired'];
  sessionId: string | undefined;
  protocolVersion: string | undefined;
  sent: JsonRpcMessage[] = [];
  closed = false;
  private sessions = 0;
  private dead = false;

  async send(m: JsonRpcMessage): Promise<void> {
    this.sent.push(m);
    await Promise.resolve();
    if (isRequest(m) && m.method === 'initialize') {
      this.dead = false;
      this.sessionId = `s${++this.sessions}`;
      this.protocolVersion = '2025-11-25';
      this.onmessage?.(
        { jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {} } },
        undefined,
      );
      return;
    }
    if (this.dead) {
      if (this.sessionId) {
        this.sessionId = undefined;
        this.onsessionexpired?.();
      }
      throw new TransportError('session_expired', 'gone', { status: 404 });
    }
    if (isRequest(m)) this.onmessage?.({ jsonrpc: '2.0', id: m.id, result: { echoed: m.method } }, undefined);
  }

  dropSession() {
    this.dead = true;
  }

  async close() {
    this.closed = true;
  }
}

let stdin: PassThrough;
let ended: Promise<unknown> | undefined;
afterEach(async () => {
  stdin?.end();
  await ended;
});

function start(transport: ScriptedTransport) {
  stdin = new PassThrough();
  const stdout = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  stdout.on('data', (c: Buffer) => {
    buffer += c.toString();
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, nl)));
      buffer = buffer.slice(nl + 1);
    }
  });
  ended = runBridge({
    url: 'http://127.0.0.1:1/mcp',
    fetch: globalThis.fetch,
    stdin,
    stdout,
    createTransport: () => transport,
  });
  const send = (m: unknown) => stdin.write(`${JSON.stringify(m)}\n`);
  return { lines, send };
}

const hostInit = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: { sampling: {} },
    clientInfo: { name: 'host', version: '9' },
  },
};

describe('the bridge when the server ends the session', () => {
  it('replays the host initialize once for concurrent failures, re-sends each request once, and hides it all', async () => {
    const t = new ScriptedTransport();
    const { lines, send } = start(t);
    send(hostInit);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await expect.poll(() => lines.length).toBe(1);
    t.dropSession();
    for (const id of [1, 2, 3]) send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'x' } });
    await expect.poll(() => lines.length).toBe(4);

    expect(lines.map((l) => l['id'])).toEqual([0, 1, 2, 3]);
    expect(lines.every((l) => !('error' in l))).toBe(true);
    const inits = t.sent.filter((m) => isRequest(m) && m.method === 'initialize');
    expect(inits).toHaveLength(2);
    expect(inits[1]).toEqual({
      jsonrpc: '2.0',
      id: 'portcullis-reinit-1',
      method: 'initialize',
      params: hostInit.params,
    });
    expect(t.sent.filter((m) => 'method' in m && m.method === 'notifications/initialized')).toHaveLength(2);
    // Each call: once on the dead session, once on the new one.
    for (const id of [1, 2, 3]) expect(t.sent.filter((m) => 'id' in m && m.id === id)).toHaveLength(2);
  });

  it('does not re-send a response to a request of the old session', async () => {
    const t = new ScriptedTransport();
    const { lines, send } = start(t);
    send(hostInit);
    await expect.poll(() => lines.length).toBe(1);
    t.dropSession();
    send({ jsonrpc: '2.0', id: 'srv-7', result: { action: 'accept' } }); // answer to an elicitation
    send({ jsonrpc: '2.0', id: 8, method: 'ping' });
    await expect.poll(() => lines.length).toBe(2);
    expect(t.sent.filter((m) => 'id' in m && m.id === 'srv-7')).toHaveLength(1);
    expect(lines[1]).toMatchObject({ id: 8, result: { echoed: 'ping' } });
  });

  it('answers with the reason when a new session cannot be had', async () => {
    const t = new ScriptedTransport();
    const { lines, send } = start(t);
    send(hostInit);
    await expect.poll(() => lines.length).toBe(1);
    t.dropSession();
    const original = t.send.bind(t);
    t.send = async (m) => {
      if (isRequest(m) && m.method === 'initialize') throw new TransportError('network', 'refused');
      return original(m);
    };
    send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await expect.poll(() => lines.length).toBe(2);
    expect(lines[1]).toMatchObject({ id: 1, error: { code: -32000, data: { code: 'server_unreachable' } } });
  });

  it('closes the transport when stdin ends', async () => {
    const t = new ScriptedTransport();
    start(t);
    stdin.end();
    expect(await ended).toEqual({ reason: 'stdin_closed' });
    expect(t.closed).toBe(true);
  });
});
