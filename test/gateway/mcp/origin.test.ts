// T1 (DNS rebinding) and request limits on the MCP path, through a real socket so that Host and
// Origin are what a browser would send. Both upstream kinds, both request paths.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpUpstream } from '../../../src/gateway/mcp/http-upstream.js';
import { createOriginPolicy, withOriginPolicy } from '../../../src/gateway/mcp/origin.js';
import { createStdioUpstream } from '../../../src/gateway/mcp/stdio-upstream.js';
import type { McpEndpoint } from '../../../src/gateway/mcp/types.js';
import { fakePrincipal, type Harness, type HarnessMode, startHarness } from './harness.js';

describe('origin policy', () => {
  const policy = createOriginPolicy({
    publicUrl: 'https://mcp.example.com/mcp',
    allowedOrigins: ['https://inspector.example.com'],
    allowedHosts: ['mcp.internal:8080'],
  });

  it('lets requests without Origin through (non-browser clients), and the public origin', () => {
    expect(policy.check(undefined, 'mcp.example.com')).toBeUndefined();
    expect(policy.check('https://mcp.example.com', 'mcp.example.com:443')).toBeUndefined();
    expect(policy.check('https://Inspector.example.com', 'mcp.internal:8080')).toBeUndefined();
  });

  it('refuses a present but foreign, opaque or malformed Origin with 403 and an id-less JSON-RPC error (T1)', () => {
    for (const origin of ['https://evil.example', 'null', 'not a url', 'http://mcp.example.com']) {
      const refusal = policy.check(origin, 'mcp.example.com');
      expect(refusal?.status).toBe(403);
      expect(refusal?.body()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
    }
  });

  it('refuses a Host the gateway does not serve with 421', () => {
    expect(policy.check(undefined, 'evil.example')?.status).toBe(421);
    expect(policy.check(undefined, 'mcp.example.com:8443')?.status).toBe(421);
    expect(policy.check(undefined, undefined)?.status).toBe(421);
  });

  it('accepts every loopback spelling of a loopback gateway, on its port only', () => {
    const local = createOriginPolicy({ publicUrl: 'http://127.0.0.1:8080/mcp' });
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080'])
      expect(local.check(undefined, host)).toBeUndefined();
    expect(local.check(undefined, 'localhost:9090')?.status).toBe(421);
    expect(local.check(undefined, 'rebound.evil.example:8080')?.status).toBe(421);
  });

  it('rejects a misconfigured allowed origin', () => {
    expect(() => createOriginPolicy({ publicUrl: 'https://a.example', allowedOrigins: ['*'] })).toThrow(
      /origin/,
    );
  });
});

function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string }) {
  const u = new URL(url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? 'POST',
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const kinds: [string, () => McpEndpoint][] = [
  // Nothing listens on port 9: a request that got through would fail with 502, not 4xx.
  [
    'http upstream',
    () => createHttpUpstream({ url: 'http://127.0.0.1:9/mcp', credential: 'none', maxBodyBytes: 4096 }),
  ],
  [
    'stdio upstream',
    () =>
      createStdioUpstream({
        command: [process.execPath, 'test/gateway/mcp/stdio-child.mjs'],
        maxBodyBytes: 4096,
      }),
  ],
];
const modes: HarnessMode[] = ['node', 'web'];

describe.each(kinds.flatMap(([kind, make]) => modes.map((mode) => [kind, mode, make] as const)))(
  'the MCP path with the %s, %s path',
  (_kind, mode, make) => {
    let gateway: Harness;
    let endpoint: McpEndpoint;
    let host: string;
    const headers = (extra: Record<string, string> = {}) => ({
      authorization: 'Bearer t',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      host,
      ...extra,
    });
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

    beforeAll(async () => {
      // The policy needs the port before the harness exists: wrap lazily.
      let policy: ReturnType<typeof createOriginPolicy> | undefined;
      const inner = make();
      const guarded = {
        handle: (r: Request, p: Parameters<McpEndpoint['handle']>[1]) =>
          withOriginPolicy(inner, policy!).handle(r, p),
        handleNode: (...a: Parameters<NonNullable<McpEndpoint['handleNode']>>) =>
          withOriginPolicy(inner, policy!).handleNode!(...a),
        close: () => inner.close(),
      };
      gateway = await startHarness(guarded, { t: fakePrincipal('alice') }, mode);
      host = `127.0.0.1:${gateway.port}`;
      policy = createOriginPolicy({ publicUrl: gateway.url, allowedOrigins: ['https://app.example'] });
      endpoint = guarded;
    });
    afterAll(async () => {
      await gateway.stop();
      await endpoint.close();
    });

    it('refuses a foreign Origin with 403 before anything else happens (T1)', async () => {
      const res = await raw(gateway.url, {
        headers: headers({ origin: 'https://evil.example' }),
        body: ping,
      });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
    });

    it('refuses a rebound Host with 421', async () => {
      const res = await raw(gateway.url, {
        headers: headers({ host: `evil.example:${gateway.port}` }),
        body: ping,
      });
      expect(res.status).toBe(421);
    });

    it('refuses an oversized body with 413', async () => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { pad: 'x'.repeat(8192) },
      });
      const res = await raw(gateway.url, { headers: headers({ origin: 'https://app.example' }), body });
      expect(res.status).toBe(413);
    });

    it('refuses an oversized body sent without Content-Length with 413', async () => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { pad: 'x'.repeat(8192) },
      });
      const res = await raw(gateway.url, { headers: headers({ 'transfer-encoding': 'chunked' }), body });
      expect(res.status).toBe(413);
    });

    it('refuses malformed JSON with 400 Parse error', async () => {
      const res = await raw(gateway.url, { headers: headers(), body: '{"jsonrpc": "2.0", "id": 1,' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: -32700 } });
    });
  },
);
