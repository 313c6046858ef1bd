// The Node server's fast path for POST /token (plain JSON in and out, no fetch Request/Response):
// every answer must be the one the fetch-style `gateway.handle` gives for the same request —
// status, JSON body, no-store, CORS, Basic challenge, Retry-After — and a refresh over HTTP
// rotates like the handler does.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { type GatewayServer, startGatewayServer } from '../../src/gateway/server.js';

const SECRET = 'a-confidential-client-secret-0123456789';

let running: GatewayServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setup(opts: { tokenBurst?: number } = {}) {
  let gatewayRef: Gateway | undefined;
  const server = await startGatewayServer(() => gatewayRef);
  running = server;
  const gateway = createGateway(
    {
      issuer: server.url,
      dev: true,
      upstream: { type: 'dev', users: [{ username: 'demo' }] },
      clients: [
        { clientId: 'public', redirectUris: ['http://127.0.0.1/cb'], tokenEndpointAuthMethod: 'none' },
        {
          clientId: 'confidential',
          clientSecret: SECRET,
          redirectUris: ['https://app.example/cb'],
          tokenEndpointAuthMethod: 'client_secret_basic',
        },
      ],
      maxBodyBytes: 1024,
      ...(opts.tokenBurst ? { rateLimits: { token: { burst: opts.tokenBurst, perMinute: 1 } } } : {}),
    },
    { encryptionKey: randomBytes(32) },
  );
  gatewayRef = gateway;
  const issue = async (clientId = 'public') =>
    (
      await gateway.internals.ctx.grants.issue({
        clientId,
        userId: 'demo',
        scopes: ['mcp'],
        resource: gateway.config.resource,
        claims: { sub: 'demo' },
        withRefreshToken: true,
      })
    ).tokens;
  return { server, gateway, issue };
}

interface Sent {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const HEADERS = [
  'content-type',
  'cache-control',
  'pragma',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'www-authenticate',
  'retry-after',
  'allow',
];

async function summary(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    headers: Object.fromEntries(HEADERS.map((h) => [h, response.headers.get(h)])),
    body: text ? (JSON.parse(text) as unknown) : null,
  };
}

/** The same request over HTTP (the server's fast path) and through `gateway.handle`. */
async function both(server: GatewayServer, gateway: Gateway, sent: Sent) {
  const init = (): RequestInit => ({
    method: sent.method ?? 'POST',
    headers: sent.headers ?? FORM,
    ...(sent.body !== undefined ? { body: sent.body } : {}),
  });
  const url = `${server.url}${sent.path ?? '/token'}`;
  const overHttp = await summary(await fetch(url, init()));
  const direct = await summary(
    await gateway.handle(new Request(url, init()), { remoteAddress: '127.0.0.1' }),
  );
  return { overHttp, direct };
}

describe('POST /token through the Node server', () => {
  it('rotates a refresh token, uncached, with CORS for a browser origin', async () => {
    const { server, issue } = await setup();
    const first = await issue();
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { ...FORM, origin: 'https://inspector.example' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token!,
        client_id: 'public',
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp' });
    expect(body['refresh_token']).not.toBe(first.refresh_token);
    expect(body['access_token']).toMatch(/^pca_/);

    // The rotated-out token inside the grace window: the same pair again.
    const again = await fetch(`${server.url}/token?ignored=1`, {
      method: 'POST',
      headers: FORM,
      body: `grant_type=refresh_token&refresh_token=${first.refresh_token}&client_id=public`,
    });
    const repeated = (await again.json()) as Record<string, unknown>;
    expect({ ...repeated, expires_in: 0 }).toEqual({ ...body, expires_in: 0 }); // a second may have passed
  });

  it('gives the same answers as gateway.handle for refused requests', async () => {
    const { server, gateway, issue } = await setup();
    const { refresh_token } = await issue('confidential');
    const basic = (secret: string) => `Basic ${Buffer.from(`confidential:${secret}`).toString('base64')}`;
    const cases: Sent[] = [
      { body: 'grant_type=password&client_id=public' },
      { body: 'client_id=public' },
      { body: 'grant_type=refresh_token&client_id=public' },
      { body: 'grant_type=refresh_token&refresh_token=pcr_nope&client_id=public' },
      { body: 'grant_type=refresh_token&grant_type=refresh_token&client_id=public' },
      { body: 'grant_type=refresh_token&refresh_token=x&client_id=nobody' },
      { headers: { 'content-type': 'application/json' }, body: '{"grant_type":"refresh_token"}' },
      { headers: { ...FORM, origin: 'https://web.example' }, body: 'grant_type=password&client_id=public' },
      {
        headers: { ...FORM, authorization: basic('wrong-secret-wrong-secret') },
        body: `grant_type=refresh_token&refresh_token=${refresh_token}`,
      },
      {
        // The public client presenting the confidential client's token.
        body: `grant_type=refresh_token&refresh_token=${refresh_token}&client_id=public`,
      },
      { body: `grant_type=refresh_token&client_id=public&pad=${'x'.repeat(2048)}` },
      { method: 'GET' },
      {
        method: 'OPTIONS',
        headers: { origin: 'https://web.example', 'access-control-request-method': 'POST' },
      },
    ];
    for (const sent of cases) {
      const { overHttp, direct } = await both(server, gateway, sent);
      expect(overHttp, JSON.stringify(sent)).toEqual(direct);
    }
  });

  it('answers an oversized body with 413 before reading it all', async () => {
    const { server } = await setup();
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: FORM,
      body: `grant_type=refresh_token&pad=${'x'.repeat(4096)}`,
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('rate-limits with 429 and Retry-After, as the handler does', async () => {
    const { server } = await setup({ tokenBurst: 2 });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: FORM,
        body: 'grant_type=refresh_token&refresh_token=x&client_id=public',
      });
      statuses.push(response.status);
      retryAfter = response.headers.get('retry-after');
      await response.body?.cancel();
    }
    expect(statuses).toEqual([400, 400, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});
