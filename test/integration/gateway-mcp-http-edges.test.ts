// The HTTP upstream's edges, calling the endpoint directly with fetch `Request`s (no gateway
// socket needed) against a scriptable node:http upstream on 127.0.0.1:0.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpUpstream, type HttpUpstreamOptions } from '../../src/gateway/mcp/http-upstream.js';
import type { McpEndpoint } from '../../src/gateway/mcp/types.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { fakePrincipal, startHarness } from '../gateway/mcp/harness.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeUpstream(handler: Handler) {
  const seen: { method: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method ?? '', headers: req.headers, body });
    handler(req, res, body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, seen };
}

function endpoint(opts: HttpUpstreamOptions): McpEndpoint {
  const e = createHttpUpstream(opts);
  cleanups.push(() => e.close());
  return e;
}

const okJson: Handler = (_req, res, body) => {
  const id = body ? (JSON.parse(body) as { id?: unknown }).id : null;
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', id, result: {} }));
};

function post(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request('http://gateway.test/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const ping = { jsonrpc: '2.0', id: 9, method: 'ping' };

describe('HTTP upstream credentials', () => {
  it("sends a static credential, and the client's Authorization never (R14)", async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({
      url: up.url,
      credential: 'static',
      headers: { Authorization: 'Bearer service-key' },
    });
    const res = await e.handle(post(ping, { authorization: 'Bearer client-token' }), fakePrincipal('alice'));
    expect(res.status).toBe(200);
    expect(up.seen[0]!.headers.authorization).toBe('Bearer service-key');
  });

  it('sends no Authorization at all with credential none, and no identity headers when turned off', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'none', identityHeaders: false });
    await e.handle(post(ping, { authorization: 'Bearer client-token' }), fakePrincipal('alice'));
    expect(up.seen[0]!.headers.authorization).toBeUndefined();
    expect(up.seen[0]!.headers['x-portcullis-user']).toBeUndefined();
  });

  it('refuses inconsistent credential configuration', () => {
    expect(() => createHttpUpstream({ url: 'http://127.0.0.1:1/mcp', credential: 'static' })).toThrow(
      /static/,
    );
    expect(() =>
      createHttpUpstream({
        url: 'http://127.0.0.1:1/mcp',
        credential: 'none',
        headers: { authorization: 'x' },
      }),
    ).toThrow(/Authorization/);
    expect(() => createHttpUpstream({ url: 'file:///etc/passwd', credential: 'none' })).toThrow(/http/);
  });

  it('raises invalid_token for the gateway to render when the upstream token is gone', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'upstream-token' });
    const err = await e
      .handle(post(ping), fakePrincipal('alice', { upstreamToken: '' }))
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).status).toBe(401);
    expect(up.seen).toEqual([]);
  });
});

describe('HTTP upstream failures', () => {
  it('answers 502 and sends nothing when the upstream token would split the request (CR LF in it)', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'upstream-token' });
    const token = 'idp-token\r\nx-injected: yes';
    const res = await e.handle(post(ping), fakePrincipal('alice', { upstreamToken: token }));
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32603 } });
    expect(text).not.toContain('idp-token');
    await new Promise((r) => setTimeout(r, 50));
    expect(up.seen).toEqual([]);
  });

  it('answers 502 with a JSON-RPC error carrying the request id when the upstream is down', async () => {
    const up = await fakeUpstream(okJson);
    const deadUrl = up.url;
    await cleanups.pop()!(); // stop it: the port is now closed
    const e = endpoint({ url: deadUrl, credential: 'none' });
    const res = await e.handle(post(ping), fakePrincipal('alice'));
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32603 } });
  });

  it('resends once when the upstream drops a reused keep-alive socket before answering', async () => {
    const served = new WeakSet<object>();
    const up = await fakeUpstream((req, res, body) => {
      if (served.has(req.socket)) {
        req.socket.destroy(); // as if its idle timeout fired just as the gateway reused the socket
        return;
      }
      served.add(req.socket);
      okJson(req, res, body);
    });
    const e = endpoint({ url: up.url, credential: 'none' });
    for (const id of [1, 2, 3]) {
      const res = await e.handle(post({ ...ping, id }), fakePrincipal('alice'));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id });
    }
    expect(up.seen.length).toBe(5); // 3 answered + 2 dropped on reused sockets
  });

  it("turns an upstream 401 into 502, without the upstream's challenge", async () => {
    const up = await fakeUpstream((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer resource_metadata="http://upstream/prm"' }).end();
    });
    const res = await endpoint({ url: up.url, credential: 'none' }).handle(
      post(ping),
      fakePrincipal('alice'),
    );
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('drops hop-by-hop, cookie and CORS headers from upstream responses', async () => {
    const up = await fakeUpstream((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, x-internal',
        'x-internal': 'secret',
        'set-cookie': 'sid=1; Path=/',
        'access-control-allow-origin': '*',
        'x-kept': 'yes',
      });
      res.end('{"jsonrpc":"2.0","id":9,"result":{}}');
    });
    const res = await endpoint({ url: up.url, credential: 'none' }).handle(
      post(ping),
      fakePrincipal('alice'),
    );
    expect(res.headers.get('x-kept')).toBe('yes');
    for (const name of ['x-internal', 'set-cookie', 'access-control-allow-origin'])
      expect(res.headers.get(name)).toBeNull();
  });

  it('answers 405 to other methods, 400 to malformed JSON and 413 to an oversized body, forwarding none', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'none', maxBodyBytes: 1024 });
    const put = await e.handle(
      new Request('http://gateway.test/mcp', { method: 'PUT', body: '{}' }),
      fakePrincipal('a'),
    );
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');
    const bad = await e.handle(post('{"jsonrpc":"2.0",'), fakePrincipal('a'));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: -32700 }, id: null });
    const big = await e.handle(post({ ...ping, params: { pad: 'x'.repeat(2000) } }), fakePrincipal('a'));
    expect(big.status).toBe(413);
    expect(up.seen).toEqual([]);
  });
});

describe('HTTP upstream, 2026-07-28 stateless requests', () => {
  const call = {
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: { region: 'eu' },
      _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
    },
  };
  const modern = {
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'echo',
    'mcp-param-region': 'eu',
  };

  it('passes through without a session: Mcp-Param-* forwarded, session id and Last-Event-ID dropped (T5, T9)', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'none' });
    const res = await e.handle(
      post(call, { ...modern, 'mcp-session-id': 'stale', 'last-event-id': '4' }),
      fakePrincipal('a'),
    );
    expect(res.status).toBe(200);
    const h = up.seen[0]!.headers;
    expect([h['mcp-method'], h['mcp-name'], h['mcp-param-region']]).toEqual(['tools/call', 'echo', 'eu']);
    expect(h['mcp-session-id']).toBeUndefined();
    expect(h['last-event-id']).toBeUndefined();
  });

  it('rejects a header that disagrees with the body with 400 HeaderMismatch, forwarding nothing', async () => {
    const up = await fakeUpstream(okJson);
    const e = endpoint({ url: up.url, credential: 'none' });
    const res = await e.handle(post(call, { ...modern, 'mcp-name': 'add' }), fakePrincipal('a'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ id: 3, error: { code: -32020 } });
    expect(up.seen).toEqual([]);
  });
});

describe('HTTP upstream shutdown', () => {
  it('cuts open GET streams on close() and refuses new requests', async () => {
    const up = await fakeUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      if (req.method === 'POST') res.end('event: message\ndata: {"jsonrpc":"2.0","id":9,"result":{}}\n\n');
    });
    const e = createHttpUpstream({ url: up.url, credential: 'none' });
    const stream = await e.handle(
      new Request('http://gateway.test/mcp', { headers: { accept: 'text/event-stream' } }),
      fakePrincipal('a'),
    );
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    const reader = stream.body!.getReader();
    await e.close();
    await expect(reader.read()).rejects.toThrow();
    const after = await e.handle(post(ping), fakePrincipal('a'));
    expect(after.status).toBe(503);
  });
});

describe('HTTP upstream streaming on the node:http path', () => {
  it('sends the headers of an SSE stream before its first event, then each event as it comes', async () => {
    let emit: ((data: string) => void) | undefined;
    const up = await fakeUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      emit = (data) => res.write(`event: message\ndata: ${data}\n\n`);
    });
    const e = endpoint({ url: up.url, credential: 'none' });
    const gateway = await startHarness(e, { t: fakePrincipal('alice') }, 'node');
    cleanups.push(() => gateway.stop());
    const abort = new AbortController();
    const res = await fetch(gateway.url, {
      headers: { authorization: 'Bearer t', accept: 'text/event-stream' },
      signal: abort.signal,
    });
    // fetch resolved on headers alone: no event has been sent yet.
    expect(res.status).toBe(200);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (const n of [1, 2]) {
      emit!(`{"jsonrpc":"2.0","method":"notifications/message","params":{"n":${n}}}`);
      const { value } = await reader.read(); // arrives while the stream stays open
      expect(value).toContain(`"n":${n}`);
    }
    abort.abort();
  });

  it("shows a POST's SSE headers before a slow first event (no client-side headers timeout)", async () => {
    let answer: (() => void) | undefined;
    const up = await fakeUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      answer = () => res.end('event: message\ndata: {"jsonrpc":"2.0","id":9,"result":{}}\n\n');
    });
    const e = endpoint({ url: up.url, credential: 'none' });
    const gateway = await startHarness(e, { t: fakePrincipal('alice') }, 'node');
    cleanups.push(() => gateway.stop());
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer t',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify(ping),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream'); // before the tool has answered
    answer!();
    expect(await res.text()).toContain('"id":9');
  });
});
