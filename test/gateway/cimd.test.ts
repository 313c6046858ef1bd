import { describe, expect, it } from 'vitest';
import {
  authorizeInBrowser,
  authorizeUrl,
  createTestGateway,
  LOOPBACK_REDIRECT,
  obtainTokens,
  TestBrowser,
  type TestGatewayOptions,
} from './helpers.js';

const CLIENT_ID = 'https://app.example/oauth/client.json';
const PUBLIC_IP = '93.184.215.14';

function document(overrides: Record<string, unknown> = {}) {
  return {
    client_id: CLIENT_ID,
    client_name: 'Example Agent',
    redirect_uris: [LOOPBACK_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    ...overrides,
  };
}

function cimdGateway(
  doc: () => Response = () => Response.json(document(), { headers: { 'cache-control': 'max-age=600' } }),
  extra: TestGatewayOptions = {},
) {
  return createTestGateway({
    dns: { 'app.example': [PUBLIC_IP], ...extra.dns },
    web: { [CLIENT_ID]: doc, ...extra.web },
    ...(extra.config ? { config: extra.config } : {}),
  });
}

async function expectRefused(t: ReturnType<typeof createTestGateway>, clientId: string, why?: RegExp) {
  const response = await t.handle(authorizeUrl({ clientId }));
  expect(response.status).toBe(400);
  expect(response.headers.get('location')).toBeNull();
  const html = await response.text();
  expect(html).toContain('invalid_client');
  if (why) expect(html).toMatch(why);
}

describe('Client ID Metadata Documents', () => {
  it('fetches, validates and shows where the client metadata came from', async () => {
    const t = cimdGateway();
    const page = await new TestBrowser(t).go(authorizeUrl({ clientId: CLIENT_ID }));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Example Agent');
    expect(html).toContain('Details published by <strong>app.example</strong>');
    expect(html).toContain('Client ID host');
    expect(t.net.lookups).toEqual(['app.example']);
    expect(t.net.fetches).toEqual([CLIENT_ID]);
  });

  it('runs the whole flow for a CIMD client and refreshes from the cache', async () => {
    const t = cimdGateway();
    const { tokens } = await obtainTokens(t, { client: { client_id: CLIENT_ID } });
    expect(tokens.refresh_token).toBeTruthy();
    expect(t.net.fetches).toHaveLength(1); // cached per max-age=600
  });

  const privateTargets: Array<[string, string, Record<string, string[]>]> = [
    ['a loopback IP', 'https://127.0.0.1/client.json', {}],
    ['a 10.x address', 'https://10.0.0.5/client.json', {}],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data', {}],
    ['IPv6 loopback', 'https://[::1]/client.json', {}],
    [
      'a name resolving to 10.x',
      'https://internal.example/client.json',
      { 'internal.example': ['10.1.2.3'] },
    ],
    [
      'a name resolving to the metadata address',
      'https://meta.example/c.json',
      { 'meta.example': ['169.254.169.254'] },
    ],
    ['a name resolving to loopback', 'https://loop.example/c.json', { 'loop.example': ['127.0.0.1'] }],
    [
      'a name with one private answer among public ones',
      'https://mixed.example/c.json',
      { 'mixed.example': [PUBLIC_IP, '192.168.1.1'] },
    ],
    [
      'a name resolving to an IPv4-mapped private address',
      'https://mapped.example/c.json',
      { 'mapped.example': ['::ffff:10.0.0.1'] },
    ],
  ];
  for (const [what, clientId, dns] of privateTargets) {
    it(`refuses a client_id URL pointing at ${what}, making no request`, async () => {
      const t = cimdGateway(undefined, {
        dns,
        web: { [clientId]: () => Response.json(document({ client_id: clientId })) },
      });
      await expectRefused(t, clientId, /non-public address/);
      expect(t.net.fetches).toEqual([]);
      expect(await t.store.list('gateway:cimd')).toEqual([]);
    });
  }

  const badUrls: Array<[string, string]> = [
    ['http', 'http://app.example/oauth/client.json'],
    ['no path', 'https://app.example'],
    ['a root path', 'https://app.example/'],
    ['dot segments', 'https://app.example/oauth/../client.json'],
    ['encoded dot segments', 'https://app.example/oauth/%2e%2e/client.json'],
    ['a fragment', 'https://app.example/oauth/client.json#x'],
    ['credentials', 'https://user:pw@app.example/oauth/client.json'],
  ];
  for (const [what, clientId] of badUrls) {
    it(`refuses a client_id URL with ${what} (CIMD §3) without resolving or fetching it`, async () => {
      const t = cimdGateway();
      const response = await t.handle(authorizeUrl({ clientId }));
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(t.net.lookups).toEqual([]);
      expect(t.net.fetches).toEqual([]);
    });
  }

  it('refuses a document whose client_id differs from its URL, and does not cache the failure', async () => {
    const t = cimdGateway(() => Response.json(document({ client_id: 'https://evil.example/client.json' })));
    await expectRefused(t, CLIENT_ID, /different from its URL/);
    await expectRefused(t, CLIENT_ID);
    expect(t.net.fetches).toHaveLength(2);
  });

  const badDocuments: Array<[string, () => Response, RegExp]> = [
    [
      'a shared-secret auth method',
      () => Response.json(document({ token_endpoint_auth_method: 'client_secret_post' })),
      /client secret/,
    ],
    ['a client_secret member', () => Response.json(document({ client_secret: 'shh' })), /client secret/],
    [
      'private_key_jwt (not supported here)',
      () => Response.json(document({ token_endpoint_auth_method: 'private_key_jwt' })),
      /not supported/,
    ],
    ['no redirect_uris', () => Response.json(document({ redirect_uris: undefined })), /redirect_uris/],
    [
      'a disallowed redirect URI',
      () => Response.json(document({ redirect_uris: ['http://evil.example/cb'] })),
      /loopback/,
    ],
    [
      'a body over 5 KB',
      () => Response.json(document({ client_name: 'x'.repeat(150), logo: 'y'.repeat(6000) })),
      /larger than 5120/,
    ],
    ['an HTTP error', () => new Response('nope', { status: 404 }), /HTTP 404/],
    [
      'a redirect (never followed)',
      () => new Response(null, { status: 302, headers: { location: 'https://10.0.0.1/x' } }),
      /HTTP 302/,
    ],
    [
      'invalid JSON',
      () => new Response('{"client_id":', { headers: { 'content-type': 'application/json' } }),
      /not JSON/,
    ],
  ];
  for (const [what, doc, why] of badDocuments) {
    it(`refuses a document with ${what}`, async () => {
      const t = cimdGateway(doc);
      await expectRefused(t, CLIENT_ID, why);
      expect(await t.store.list('gateway:cimd')).toEqual([]);
    });
  }

  it('refuses a redirect_uri the document does not list', async () => {
    const t = cimdGateway();
    const response = await t.handle(
      authorizeUrl({ clientId: CLIENT_ID, redirectUri: 'http://127.0.0.1:7777/elsewhere' }),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('caches per max-age and fetches again once it lapses', async () => {
    const t = cimdGateway();
    await t.handle(authorizeUrl({ clientId: CLIENT_ID }));
    await t.handle(authorizeUrl({ clientId: CLIENT_ID }));
    expect(t.net.fetches).toHaveLength(1);
    t.clock.advance(601_000);
    await t.handle(authorizeUrl({ clientId: CLIENT_ID }));
    expect(t.net.fetches).toHaveLength(2);
  });

  it('does not cache a document served with no-store', async () => {
    const t = cimdGateway(() => Response.json(document(), { headers: { 'cache-control': 'no-store' } }));
    await t.handle(authorizeUrl({ clientId: CLIENT_ID }));
    await t.handle(authorizeUrl({ clientId: CLIENT_ID }));
    expect(t.net.fetches).toHaveLength(2);
  });

  it('aborts the request when the document cannot be fetched', async () => {
    const t = cimdGateway(() => {
      throw new TypeError('connection reset');
    });
    await expectRefused(t, CLIENT_ID, /could not be fetched/);
  });

  it('always asks again for a CIMD client with a loopback redirect URI (localhost impersonation, A28)', async () => {
    const t = cimdGateway();
    const browser = new TestBrowser(t);
    const first = await authorizeInBrowser(t, { clientId: CLIENT_ID }, browser);
    expect(first.searchParams.get('code')).toBeTruthy();
    const again = await browser.go(
      authorizeUrl({ clientId: CLIENT_ID, redirectUri: 'http://127.0.0.1:9999/callback' }),
    );
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Only approve if you just started this');
  });

  it('treats URL client ids as unknown when CIMD is disabled', async () => {
    const t = cimdGateway(undefined, { config: { cimd: { enabled: false } } });
    await expectRefused(t, CLIENT_ID);
    expect(t.net.fetches).toEqual([]);
    const metadata = await (await t.handle('/.well-known/oauth-authorization-server')).json();
    expect(metadata.client_id_metadata_document_supported).toBe(false);
  });
});
