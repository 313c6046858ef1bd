import { describe, expect, it } from 'vitest';
import { createTestGateway, ISSUER, MCP_URL } from './helpers.js';

describe('authorization server metadata (RFC 8414)', () => {
  it('is served at the root well-known URL with the exact issuer and S256 only', async () => {
    const t = createTestGateway();
    const response = await t.handle('/.well-known/oauth-authorization-server');
    expect(response.status).toBe(200);
    const metadata = await response.json();
    expect(metadata).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      registration_endpoint: `${ISSUER}/register`,
      revocation_endpoint: `${ISSUER}/revoke`,
      introspection_endpoint: `${ISSUER}/introspect`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
      response_types_supported: ['code'],
    });
  });

  it('is served path-inserted for an issuer with a path (RFC 8414 §3.1)', async () => {
    const t = createTestGateway({ config: { issuer: `${ISSUER}/auth` } });
    const response = await t.handle('/.well-known/oauth-authorization-server/auth');
    expect(response.status).toBe(200);
    const metadata = await response.json();
    expect(metadata.issuer).toBe(`${ISSUER}/auth`);
    expect(metadata.token_endpoint).toBe(`${ISSUER}/auth/token`);
    expect((await t.handle('/auth/healthz')).status).toBe(404);
    expect((await t.handle('/healthz')).status).toBe(200);
  });

  it('leaves the registration endpoint out when DCR is disabled', async () => {
    const t = createTestGateway({ config: { registration: { enabled: false } } });
    const metadata = await (await t.handle('/.well-known/oauth-authorization-server')).json();
    expect(metadata.registration_endpoint).toBeUndefined();
    expect((await t.handle('/register', { method: 'POST' })).status).toBe(403);
  });

  it('answers CORS preflights and carries Access-Control-Allow-Origin for browser clients', async () => {
    const t = createTestGateway();
    const preflight = await t.handle('/.well-known/oauth-authorization-server', {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    const response = await t.handle('/.well-known/oauth-authorization-server', {
      headers: { origin: 'https://inspector.example' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('protected resource metadata (RFC 9728)', () => {
  for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
    it(`is served at ${path} with resource exactly the MCP URL`, async () => {
      const t = createTestGateway();
      const response = await t.handle(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('application/json');
      const prm = await response.json();
      expect(prm).toEqual({
        resource: MCP_URL,
        authorization_servers: [ISSUER],
        scopes_supported: ['mcp'],
        bearer_methods_supported: ['header'],
      });
    });
  }

  it('never lists offline_access among the resource scopes (R11)', async () => {
    const t = createTestGateway({ config: { scopes: { supported: ['mcp', 'mcp:admin'] } } });
    const prm = await (await t.handle('/.well-known/oauth-protected-resource/mcp')).json();
    expect(prm.scopes_supported).toEqual(['mcp', 'mcp:admin']);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const t = createTestGateway();
    expect((await t.handle('/nope')).status).toBe(404);
    const wrong = await t.handle('/token');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
