import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '../../src/oauth/www-authenticate.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { bearer, createTestGateway, ISSUER, MCP_URL, obtainTokens, testClock } from './helpers.js';

const PRM = `${ISSUER}/.well-known/oauth-protected-resource/mcp`;

function challengeOf(response: Response): Record<string, string> {
  const [challenge] = parseWwwAuthenticate(response.headers.get('www-authenticate'));
  expect(challenge?.scheme).toBe('bearer');
  return challenge!.params;
}

describe('the MCP endpoint requires a valid bearer token (MCP §Token Handling)', () => {
  it('answers a request without a token with 401, resource_metadata and scope, and no error code', async () => {
    const t = createTestGateway();
    const response = await t.handle('/mcp', { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toEqual({ resource_metadata: PRM, scope: 'mcp' });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(t.mcp.calls).toHaveLength(0);
  });

  it('ignores an access token in the query string (R15) and never forwards it', async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    const queryOnly = await t.handle(`/mcp?access_token=${tokens.access_token}`, {
      method: 'POST',
      body: '{}',
    });
    expect(queryOnly.status).toBe(401);
    expect(challengeOf(queryOnly)['error']).toBeUndefined();
    expect(t.mcp.calls).toHaveLength(0);
    const both = await t.handle(`/mcp?access_token=${tokens.access_token}&x=1`, bearer(tokens.access_token));
    expect(both.status).toBe(200);
    expect(t.mcp.calls[0]!.url).toBe(`${MCP_URL}?x=1`);
  });

  it('answers an unknown token with 401 invalid_token', async () => {
    const t = createTestGateway();
    const response = await t.handle(
      '/mcp',
      bearer('pca_AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'),
    );
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toMatchObject({
      error: 'invalid_token',
      resource_metadata: PRM,
      scope: 'mcp',
    });
    expect((await t.handle('/mcp', bearer('not-even-close'))).status).toBe(401);
  });

  it('answers an expired token with 401 invalid_token', async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    t.clock.advance(3601_000);
    const response = await t.handle('/mcp', bearer(tokens.access_token));
    expect(response.status).toBe(401);
    expect(challengeOf(response)['error']).toBe('invalid_token');
    expect(challengeOf(response)['error_description']).toMatch(/expired/);
  });

  it('rejects a token issued for another resource behind a gateway sharing the store (R13)', async () => {
    const clock = testClock();
    const store = createMemoryStore({ clock: clock.now });
    const a = createTestGateway({ deps: { store, clock: clock.now } });
    const b = createTestGateway({ deps: { store, clock: clock.now }, config: { mcpPath: '/other-mcp' } });
    const { tokens } = await obtainTokens(a);
    expect((await a.handle('/mcp', bearer(tokens.access_token))).status).toBe(200);
    const response = await b.handle('/other-mcp', bearer(tokens.access_token));
    expect(response.status).toBe(401);
    expect(challengeOf(response)).toMatchObject({ error: 'invalid_token' });
    expect(challengeOf(response)['error_description']).toMatch(/another resource/);
    expect(b.mcp.calls).toHaveLength(0);
  });

  it('answers a token without the required scope with 403 insufficient_scope naming the scopes', async () => {
    const t = createTestGateway({
      config: {
        scopes: { supported: ['mcp', 'mcp:admin'], default: ['mcp'], required: ['mcp', 'mcp:admin'] },
      },
    });
    const { tokens } = await obtainTokens(t, { scope: 'mcp' });
    const response = await t.handle('/mcp', bearer(tokens.access_token));
    expect(response.status).toBe(403);
    expect(challengeOf(response)).toMatchObject({
      error: 'insufficient_scope',
      scope: 'mcp mcp:admin',
      resource_metadata: PRM,
    });
  });

  it('hands the MCP side a principal and never the client token', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const response = await t.handle(
      '/mcp',
      bearer(tokens.access_token, { headers: { 'mcp-protocol-version': '2025-11-25' } }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: { user: 'alice' } });
    const call = t.mcp.calls[0]!;
    expect(call.headers.get('authorization')).toBeNull();
    expect(call.headers.get('mcp-protocol-version')).toBe('2025-11-25');
    expect(call.body).toContain('"ping"');
    expect(call.principal).toMatchObject({
      userId: 'alice',
      clientId,
      scopes: ['mcp'],
      resource: MCP_URL,
      claims: { sub: 'alice', email: 'alice@example.test' },
    });
  });

  it('gives the MCP side a fresh upstream token, refreshed by the gateway when it nears expiry', async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    await t.handle('/mcp', bearer(tokens.access_token));
    const principal = t.mcp.calls[0]!.principal;
    const first = await principal.upstreamAccessToken();
    expect(first).toMatch(/^dev_/);
    expect(await principal.upstreamAccessToken()).toBe(first);
    t.clock.advance(250_000); // the dev IdP's tokens live 300 s; refreshed 60 s early
    const second = await principal.upstreamAccessToken();
    expect(second).toMatch(/^dev_/);
    expect(second).not.toBe(first);
    // Stored encrypted: the token is nowhere in the raw store.
    const [loginId] = await t.store.list('gateway:upstream-logins');
    expect(JSON.stringify(await t.store.get('gateway:upstream-logins', loginId!))).not.toContain(second!);
  });
});

describe('browser clients on the MCP endpoint (transports §Security Warning)', () => {
  it('refuses a request from an Origin that is not allowed with 403, before authentication', async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    const response = await t.handle(
      '/mcp',
      bearer(tokens.access_token, { headers: { origin: 'https://evil.example' } }),
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(t.mcp.calls).toHaveLength(0);
  });

  it('serves a configured origin with CORS headers exposing Mcp-Session-Id and WWW-Authenticate', async () => {
    const t = createTestGateway({ config: { corsOrigins: ['https://inspector.example'] } });
    const preflight = await t.handle('/mcp', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://inspector.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-session-id, x-evil',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://inspector.example');
    expect(preflight.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, mcp-session-id',
    );
    const unauthenticated = await t.handle('/mcp', {
      method: 'POST',
      headers: { origin: 'https://inspector.example' },
    });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    const { tokens } = await obtainTokens(t);
    const ok = await t.handle(
      '/mcp',
      bearer(tokens.access_token, { headers: { origin: 'https://inspector.example' } }),
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://inspector.example');
    expect(ok.headers.get('access-control-expose-headers')).toContain('Mcp-Session-Id');
  });

  it('gives an unlisted origin no CORS grant on preflight', async () => {
    const t = createTestGateway({ config: { corsOrigins: ['https://inspector.example'] } });
    const preflight = await t.handle('/mcp', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a Host the gateway does not serve (DNS rebinding) with 421', async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    const response = await t.handle(
      '/mcp',
      bearer(tokens.access_token, { headers: { host: 'evil.example' } }),
    );
    expect(response.status).toBe(421);
    expect(t.mcp.calls).toHaveLength(0);
  });
});
