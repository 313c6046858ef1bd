import { describe, expect, it } from 'vitest';
import { probe } from '../../../src/client/probe.js';

const URL_ = 'https://mcp.example/mcp';

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

/** A fetch that answers from a table of `METHOD url` → handler, recording what was asked. */
function fakeFetch(routes: Record<string, Handler>) {
  const calls: Array<{ method: string; url: string; headers: Headers }> = [];
  const fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const method = init.method ?? 'GET';
    calls.push({ method, url, headers: new Headers(init.headers) });
    const handler = routes[`${method} ${url}`];
    return handler ? handler(url, init) : new Response('not found', { status: 404 });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const json = (body: unknown, init: ResponseInit = {}) =>
  new Response(JSON.stringify(body), {
    ...init,
    headers: { 'content-type': 'application/json', ...init.headers },
  });

const initializeResult = {
  jsonrpc: '2.0',
  id: 1,
  result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'x', version: '1' } },
};

function failingFetch(cause: unknown): typeof fetch {
  return (async () => {
    throw new TypeError('fetch failed', { cause });
  }) as unknown as typeof fetch;
}

describe('probe (unit)', () => {
  it('sends one unauthenticated initialize that accepts JSON and SSE', async () => {
    const { fetch, calls } = fakeFetch({ [`POST ${URL_}`]: () => json(initializeResult) });
    await probe(URL_, { fetch });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.get('accept')).toBe('application/json, text/event-stream');
    expect(calls[0]!.headers.get('authorization')).toBeNull();
  });

  it('reads the initialize answer from an SSE stream and ends the session with DELETE', async () => {
    const sse = `event: message\nid: 1\ndata: ${JSON.stringify(initializeResult)}\n\n`;
    const { fetch, calls } = fakeFetch({
      [`POST ${URL_}`]: () =>
        new Response(sse, { headers: { 'content-type': 'text/event-stream', 'mcp-session-id': 's-1' } }),
      [`DELETE ${URL_}`]: () => new Response(null, { status: 200 }),
    });
    expect(await probe(URL_, { fetch })).toEqual({
      kind: 'open',
      status: 200,
      protocolVersion: '2025-06-18',
      serverInfo: { name: 'x', version: '1' },
    });
    const del = calls.find((c) => c.method === 'DELETE');
    expect(del?.headers.get('mcp-session-id')).toBe('s-1');
    expect(del?.headers.get('mcp-protocol-version')).toBe('2025-06-18');
  });

  it('calls a 403 without any challenge a static-credentials server', async () => {
    const { fetch } = fakeFetch({ [`POST ${URL_}`]: () => new Response('forbidden', { status: 403 }) });
    expect(await probe(URL_, { fetch })).toEqual({
      kind: 'static-credentials',
      status: 403,
      hint: expect.stringContaining('API key'),
    });
  });

  it('finds OAuth behind a bare 401 when resource metadata exists (2025-03-26 servers)', async () => {
    const prm = { resource: URL_, authorization_servers: ['https://as.example'], scopes_supported: ['read'] };
    const { fetch } = fakeFetch({
      [`POST ${URL_}`]: () => new Response(null, { status: 401 }),
      ['GET https://mcp.example/.well-known/oauth-protected-resource/mcp']: () => json(prm),
      ['GET https://as.example/.well-known/oauth-authorization-server']: () =>
        json({
          issuer: 'https://as.example',
          authorization_endpoint: 'https://as.example/a',
          token_endpoint: 'https://as.example/t',
          code_challenge_methods_supported: ['S256'],
        }),
    });
    expect(await probe(URL_, { fetch })).toMatchObject({
      kind: 'oauth',
      authorizationServers: ['https://as.example'],
      authorizationServerMetadata: { issuer: 'https://as.example' },
      scopes: ['read'],
      scopeSource: 'resource_metadata',
    });
  });

  it('still reports OAuth, with the problem, when discovery fails part-way', async () => {
    const { fetch } = fakeFetch({
      [`POST ${URL_}`]: () =>
        new Response(null, {
          status: 401,
          headers: { 'www-authenticate': 'Bearer resource_metadata="https://mcp.example/prm", scope="a b"' },
        }),
      ['GET https://mcp.example/prm']: () => new Response('oops', { status: 500 }),
    });
    expect(await probe(URL_, { fetch })).toMatchObject({
      kind: 'oauth',
      status: 401,
      scopes: ['a', 'b'],
      scopeSource: 'challenge',
      challenge: { resource_metadata: 'https://mcp.example/prm', scope: 'a b' },
      problem: expect.stringContaining('HTTP 500'),
    });
  });

  it.each([
    [404, 'not-mcp', /not a Streamable HTTP MCP endpoint/],
    [405, 'not-mcp', /legacy HTTP\+SSE/],
    [400, 'not-mcp', /refused an MCP initialize/],
    [503, 'unreachable', /temporarily unavailable/],
  ])('classifies HTTP %i as %s', async (status, kind, reason) => {
    const { fetch } = fakeFetch({ [`POST ${URL_}`]: () => new Response('no', { status }) });
    const result = await probe(URL_, { fetch });
    expect(result.kind).toBe(kind);
    expect((result as { reason: string }).reason).toMatch(reason);
  });

  it('does not follow a redirect, and says where it pointed', async () => {
    const { fetch } = fakeFetch({
      [`POST ${URL_}`]: () =>
        new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/' } }),
    });
    expect(await probe(URL_, { fetch })).toMatchObject({
      kind: 'not-mcp',
      status: 307,
      reason: expect.stringContaining('https://elsewhere.example/'),
    });
  });

  it('calls a 200 that is not JSON-RPC not-mcp', async () => {
    const { fetch } = fakeFetch({
      [`POST ${URL_}`]: () => new Response('<html>', { headers: { 'content-type': 'text/html' } }),
    });
    expect(await probe(URL_, { fetch })).toMatchObject({ kind: 'not-mcp', status: 200 });
  });

  it.each([
    [{ code: 'ENOTFOUND' }, 'dns'],
    [{ code: 'ECONNREFUSED' }, 'refused'],
    [{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'tls'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'tls'],
    [{ code: 'UND_ERR_CONNECT_TIMEOUT' }, 'timeout'],
    [{ code: 'ECONNRESET' }, 'network'],
  ])('classifies a connection failure %o as unreachable/%s', async (cause, code) => {
    const error = Object.assign(new Error('low level'), cause);
    expect(await probe(URL_, { fetch: failingFetch(error) })).toMatchObject({ kind: 'unreachable', code });
  });

  it('with publicOnly, refuses a host that resolves to a private address before sending anything', async () => {
    const { fetch, calls } = fakeFetch({});
    const result = await probe(URL_, {
      fetch,
      publicOnly: { resolver: async () => [{ address: '10.0.0.7', family: 4 }] },
    });
    expect(result).toMatchObject({
      kind: 'unreachable',
      code: 'blocked',
      reason: expect.stringMatching(/non-public/),
    });
    expect(calls).toEqual([]);
  });

  it('refuses a URL that is neither https nor loopback http', async () => {
    await expect(probe('http://mcp.example/mcp')).rejects.toMatchObject({ code: 'insecure_url' });
    await expect(probe('file:///etc/passwd')).rejects.toMatchObject({ code: 'insecure_url' });
  });
});
