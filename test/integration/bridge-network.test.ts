// The network around the bridge: old HTTP+SSE servers (http-first fallback, sse-only) and
// corporate proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHost, type Host, initializeRequest, REPO, spawnRaw } from '../bridge/harness.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { type LegacyServer, startLegacyServer } from '../transport/legacy-server.js';

let host: Host | undefined;
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await host?.close();
  host = undefined;
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]?.text;

async function legacy(): Promise<LegacyServer> {
  const s = await startLegacyServer();
  cleanup.push(() => s.stop());
  return s;
}

/** A forward proxy that tunnels CONNECT (what undici's proxy agent uses) and counts tunnels. */
async function startProxy(): Promise<{ url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const proxy: Server = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, socket, head) => {
    tunnels.push(req.url ?? '');
    const [hostname, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), hostname, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, tunnels };
}

describe('portcullis connect and older servers', () => {
  it('falls back from Streamable HTTP to HTTP+SSE (http-first, the default)', async () => {
    const server = await legacy();
    host = await connectHost(server.url, { flags: ['--log-level', 'info'] });
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'old server' } }))).toBe(
      'old server',
    );
    expect(host.stderr()).toMatch(/falling back to HTTP\+SSE/);
  });

  it('speaks only HTTP+SSE with --transport sse-only, and re-initializes when that server restarts', async () => {
    const server = await legacy();
    host = await connectHost(server.url, { flags: ['--transport', 'sse-only'] });
    expect(textOf(await host.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
    await server.restart();
    await expect
      .poll(async () =>
        textOf(
          await host!.client.callTool({ name: 'echo', arguments: { text: 'again' } }).catch(() => undefined),
        ),
      )
      .toBe('again');
  });
});

describe('portcullis connect behind a proxy', () => {
  let server: McpTestServer;

  it('sends everything through HTTPS_PROXY / HTTP_PROXY', async () => {
    server = await startMcpServer({ requireAuth: false });
    cleanup.push(() => server.stop());
    const proxy = await startProxy();
    host = await connectHost(server.url, {
      env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '' },
    });
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'proxied' } }))).toBe(
      'proxied',
    );
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(proxy.tunnels.every((t) => t === new URL(server.url).host)).toBe(true);
  });

  it('goes direct to hosts in NO_PROXY', async () => {
    server = await startMcpServer({ requireAuth: false });
    cleanup.push(() => server.stop());
    const proxy = await startProxy();
    host = await connectHost(server.url, { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'direct' } }))).toBe(
      'direct',
    );
    expect(proxy.tunnels).toEqual([]);
  });
});

describe('portcullis connect and private CAs', () => {
  /** TLS in front of the fixture server, with a certificate from a CA no system trusts (test/bridge/tls). */
  async function startTlsFront(target: string): Promise<string> {
    const upstream = new URL(target);
    const tls = createTlsServer(
      {
        key: readFileSync(`${REPO}/test/bridge/tls/server.key`),
        cert: readFileSync(`${REPO}/test/bridge/tls/server.pem`),
      },
      (socket) => {
        const plain = connect(Number(upstream.port), upstream.hostname);
        socket.pipe(plain).pipe(socket);
        plain.on('error', () => socket.destroy());
        socket.on('error', () => plain.destroy());
      },
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    });
    return `https://127.0.0.1:${(tls.address() as AddressInfo).port}/mcp`;
  }

  it('trusts the CAs in NODE_EXTRA_CA_CERTS, and names the TLS failure without them', async () => {
    const server = await startMcpServer({ requireAuth: false });
    cleanup.push(() => server.stop());
    const url = await startTlsFront(server.url);

    host = await connectHost(url, { env: { NODE_EXTRA_CA_CERTS: `${REPO}/test/bridge/tls/ca.pem` } });
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'over tls' } }))).toBe(
      'over tls',
    );

    const untrusted = spawnRaw(url, [], { NODE_EXTRA_CA_CERTS: '' });
    cleanup.push(async () => {
      untrusted.child.stdin.end();
      await untrusted.exited;
    });
    untrusted.send(initializeRequest());
    const answer = await untrusted.next((m) => m['id'] === 1);
    expect(answer).toMatchObject({ error: { data: { code: 'server_unreachable' } } });
    expect((answer['error'] as { message: string }).message).toMatch(/certificate/);
  });
});
