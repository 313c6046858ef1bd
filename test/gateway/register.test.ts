import { describe, expect, it } from 'vitest';
import { createTestGateway, json, LOOPBACK_REDIRECT } from './helpers.js';

async function register(t: ReturnType<typeof createTestGateway>, body: unknown) {
  const response = await t.handle('/register', json(body));
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, response };
}

describe('/register (RFC 7591)', () => {
  it('registers a public native client and echoes its metadata', async () => {
    const t = createTestGateway();
    const { status, body, response } = await register(t, {
      redirect_uris: [LOOPBACK_REDIRECT, 'claude://oauth/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      client_name: 'Claude',
      application_type: 'native',
    });
    expect(status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body).toMatchObject({
      client_id: expect.stringMatching(/^dcr_/),
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Claude',
      application_type: 'native',
    });
    expect(body['client_secret']).toBeUndefined();
  });

  it('defaults to client_secret_basic and returns a secret stored only as a hash', async () => {
    const t = createTestGateway();
    const { status, body } = await register(t, { redirect_uris: ['https://app.example/cb'] });
    expect(status).toBe(201);
    expect(body['token_endpoint_auth_method']).toBe('client_secret_basic');
    expect(body['client_secret']).toMatch(/^pcs_/);
    expect(body['client_secret_expires_at']).toBe(0);
    const stored = JSON.stringify(await t.store.get('gateway:clients', body['client_id'] as string));
    expect(stored).not.toContain(body['client_secret'] as string);
  });

  const refused: Array<[string, Record<string, unknown>]> = [
    ['http on a public host', { redirect_uris: ['http://app.example/cb'] }],
    ['a javascript: URI', { redirect_uris: ['javascript:alert(1)'] }],
    ['a data: URI', { redirect_uris: ['data:text/html,hi'] }],
    ['a fragment', { redirect_uris: ['https://app.example/cb#x'] }],
    ['credentials in the URI', { redirect_uris: ['https://user:pw@app.example/cb'] }],
    ['an unlisted private-use scheme', { redirect_uris: ['cursor://cb'] }],
    ['a relative URI', { redirect_uris: ['/cb'] }],
    ['a web application on loopback', { redirect_uris: [LOOPBACK_REDIRECT], application_type: 'web' }],
    ['a web application with an app scheme', { redirect_uris: ['claude://cb'], application_type: 'web' }],
    ['no redirect URIs', { redirect_uris: [] }],
  ];
  for (const [what, metadata] of refused) {
    it(`refuses ${what} with invalid_redirect_uri`, async () => {
      const t = createTestGateway();
      const { status, body } = await register(t, metadata);
      expect(status).toBe(400);
      expect(body['error']).toBe('invalid_redirect_uri');
      expect(await t.store.list('gateway:clients')).toEqual([]);
    });
  }

  it('accepts loopback http on any host spelling of loopback and https anywhere', async () => {
    const t = createTestGateway();
    const { status } = await register(t, {
      redirect_uris: [
        'http://127.0.0.1/cb',
        'http://[::1]:8080/cb',
        'http://localhost:3000/cb',
        'https://app.example/cb',
      ],
      token_endpoint_auth_method: 'none',
    });
    expect(status).toBe(201);
  });

  const invalidMetadata: Array<[string, Record<string, unknown>]> = [
    ['private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['the implicit grant', { grant_types: ['implicit'] }],
    ['the token response type', { response_types: ['token'] }],
    ['an unknown scope', { scope: 'mcp root' }],
    ['a non-string client_name', { client_name: 42 }],
  ];
  for (const [what, metadata] of invalidMetadata) {
    it(`refuses ${what} with invalid_client_metadata`, async () => {
      const t = createTestGateway();
      const { status, body } = await register(t, { redirect_uris: [LOOPBACK_REDIRECT], ...metadata });
      expect(status).toBe(400);
      expect(body['error']).toBe('invalid_client_metadata');
    });
  }

  it('refuses malformed JSON', async () => {
    const t = createTestGateway();
    const response = await t.handle('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"redirect_uris": [',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
    const array = await t.handle('/register', json([1, 2]));
    expect(await array.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('refuses oversized JSON with 413 before parsing it', async () => {
    const t = createTestGateway();
    const response = await t.handle(
      '/register',
      json({ redirect_uris: [LOOPBACK_REDIRECT], client_uri: `https://x.example/${'a'.repeat(70_000)}` }),
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses oversized JSON sent without a Content-Length (streamed) with 413', async () => {
    const t = createTestGateway();
    const chunk = new TextEncoder().encode(`{"a":"${'x'.repeat(40_000)}`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await t.handle('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('refuses a non-JSON content type', async () => {
    const t = createTestGateway();
    const response = await t.handle('/register', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('rate-limits registrations per IP', async () => {
    const t = createTestGateway({ config: { rateLimits: { register: { burst: 2, perMinute: 2 } } } });
    const body = { redirect_uris: [LOOPBACK_REDIRECT], token_endpoint_auth_method: 'none' };
    expect((await register(t, body)).status).toBe(201);
    expect((await register(t, body)).status).toBe(201);
    const limited = await register(t, body);
    expect(limited.status).toBe(429);
    expect(limited.response.headers.get('retry-after')).toBe('30');
    t.clock.advance(30_000);
    expect((await register(t, body)).status).toBe(201);
  });

  it('allows browser clients to register (CORS)', async () => {
    const t = createTestGateway();
    const response = await t.handle('/register', {
      ...json({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' }),
      headers: { 'content-type': 'application/json', origin: 'https://app.example' },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});
