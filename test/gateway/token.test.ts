import { describe, expect, it } from 'vitest';
import {
  authorizeInBrowser,
  bearer,
  createTestGateway,
  form,
  LOOPBACK_REDIRECT,
  MCP_URL,
  obtainTokens,
  pkcePair,
  registerClient,
  type TestGateway,
  type Tokens,
} from './helpers.js';

async function codeFor(t: TestGateway, clientId: string) {
  const { verifier, challenge } = pkcePair();
  const back = await authorizeInBrowser(t, { clientId, challenge });
  return { code: back.searchParams.get('code')!, verifier };
}

function redeem(t: TestGateway, params: Record<string, string>) {
  return t.handle(
    '/token',
    form({ grant_type: 'authorization_code', redirect_uri: LOOPBACK_REDIRECT, ...params }),
  );
}

function refresh(t: TestGateway, clientId: string, refreshToken: string, extra: Record<string, string> = {}) {
  return t.handle(
    '/token',
    form({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, ...extra }),
  );
}

async function grants(t: TestGateway): Promise<number> {
  return (await t.store.list('gateway:grants')).length;
}

async function mcpStatus(t: TestGateway, accessToken: string): Promise<number> {
  return (await t.handle('/mcp', bearer(accessToken))).status;
}

describe('/token authorization_code (OAuth 2.1 §4.1.3)', () => {
  it('issues opaque, high-entropy, audience-bound tokens, never cached', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    const response = await redeem(t, {
      code,
      client_id: client_id!,
      code_verifier: verifier,
      resource: MCP_URL,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const tokens = (await response.json()) as Tokens;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp' });
    expect(tokens.access_token).toMatch(/^pca_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.refresh_token).toMatch(/^pcr_/);
    expect(tokens.access_token).not.toContain(code);
    // Stored only by hash: no token appears anywhere in the store.
    const dump = JSON.stringify(
      await Promise.all((await t.store.list('gateway:grants')).map((k) => t.store.get('gateway:grants', k))),
    );
    expect(dump).not.toContain(tokens.access_token.split('.')[1]);
    expect(dump).not.toContain(tokens.refresh_token!.split('.')[1]);
    expect(await mcpStatus(t, tokens.access_token)).toBe(200);
  });

  it('rejects a missing code_verifier and issues nothing', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code } = await codeFor(t, client_id!);
    const response = await redeem(t, { code, client_id: client_id! });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await grants(t)).toBe(0);
  });

  it('rejects a wrong code_verifier and issues nothing', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code } = await codeFor(t, client_id!);
    const response = await redeem(t, { code, client_id: client_id!, code_verifier: pkcePair().verifier });
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await grants(t)).toBe(0);
  });

  it('rejects a code redeemed by another client', async () => {
    const t = createTestGateway();
    const a = await registerClient(t);
    const b = await registerClient(t);
    const { code, verifier } = await codeFor(t, a.client_id!);
    const response = await redeem(t, { code, client_id: b.client_id!, code_verifier: verifier });
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await grants(t)).toBe(0);
  });

  it('rejects a redirect_uri different from the authorization request', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    const response = await redeem(t, {
      code,
      client_id: client_id!,
      code_verifier: verifier,
      redirect_uri: 'http://127.0.0.1:7777/other',
    });
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a resource other than the one authorized (invalid_target)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    const response = await redeem(t, {
      code,
      client_id: client_id!,
      code_verifier: verifier,
      resource: 'https://gw.example/other',
    });
    expect(await response.json()).toMatchObject({ error: 'invalid_target' });
    expect(await grants(t)).toBe(0);
  });

  it('rejects an expired code (10 minutes)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    t.clock.advance(601_000);
    const response = await redeem(t, { code, client_id: client_id!, code_verifier: verifier });
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects a reused code and revokes the tokens the first redemption issued', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    const first = (await (
      await redeem(t, { code, client_id: client_id!, code_verifier: verifier })
    ).json()) as Tokens;
    expect(await mcpStatus(t, first.access_token)).toBe(200);
    const second = await redeem(t, { code, client_id: client_id!, code_verifier: verifier });
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await mcpStatus(t, first.access_token)).toBe(401);
    expect(await (await refresh(t, client_id!, first.refresh_token!)).json()).toMatchObject({
      error: 'invalid_grant',
    });
    expect(await grants(t)).toBe(0);
  });

  it('does not let a replay with bad parameters revoke the grant (OAuth 2.1 §4.1.3)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const { code, verifier } = await codeFor(t, client_id!);
    const first = (await (
      await redeem(t, { code, client_id: client_id!, code_verifier: verifier })
    ).json()) as Tokens;
    await redeem(t, { code, client_id: client_id!, code_verifier: pkcePair().verifier });
    expect(await mcpStatus(t, first.access_token)).toBe(200);
  });

  it('rejects unsupported grant types, malformed and oversized bodies', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const unsupported = await t.handle('/token', form({ grant_type: 'password', client_id: client_id! }));
    expect(await unsupported.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const asJson = await t.handle('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code' }),
    });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toMatchObject({ error: 'invalid_request' });
    const duplicated = await t.handle('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&client_id=${client_id}&code=a&code=b`,
    });
    expect(await duplicated.json()).toMatchObject({ error: 'invalid_request' });
    const huge = await t.handle(
      '/token',
      form({ grant_type: 'authorization_code', client_id: client_id!, code: 'x'.repeat(70_000) }),
    );
    expect(huge.status).toBe(413);
    expect(huge.headers.get('cache-control')).toBe('no-store');
    expect(await huge.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('rejects unknown clients with invalid_client (401)', async () => {
    const t = createTestGateway();
    const response = await redeem(t, {
      code: 'pcc_x',
      client_id: 'dcr_nobody',
      code_verifier: pkcePair().verifier,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('confidential clients at /token (OAuth 2.1 §2.4)', () => {
  it('authenticates with client_secret_basic and refuses a wrong secret with a Basic challenge', async () => {
    const t = createTestGateway();
    const client = await registerClient(t, { token_endpoint_auth_method: 'client_secret_basic' });
    expect(client['client_secret']).toMatch(/^pcs_/);
    const stored = JSON.stringify(await t.store.get('gateway:clients', client.client_id!));
    expect(stored).not.toContain(client['client_secret']!);
    const { code, verifier } = await codeFor(t, client.client_id!);
    const basic = (secret: string) =>
      `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`;
    const wrong = await t.handle('/token', {
      ...form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: LOOPBACK_REDIRECT,
      }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('nope') },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    const none = await redeem(t, { code, client_id: client.client_id!, code_verifier: verifier });
    expect(await none.json()).toMatchObject({ error: 'invalid_client' });
    const right = await t.handle('/token', {
      ...form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: LOOPBACK_REDIRECT,
      }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client['client_secret']!),
      },
    });
    expect(right.status).toBe(200);
  });

  it('authenticates static clients from config with client_secret_post', async () => {
    const t = createTestGateway({
      config: {
        clients: [
          {
            clientId: 'static-app',
            clientSecret: 'static-secret-0123456789',
            tokenEndpointAuthMethod: 'client_secret_post',
            redirectUris: [LOOPBACK_REDIRECT],
            clientName: 'Static App',
          },
        ],
      },
    });
    const { code, verifier } = await codeFor(t, 'static-app');
    const response = await redeem(t, {
      code,
      client_id: 'static-app',
      client_secret: 'static-secret-0123456789',
      code_verifier: verifier,
    });
    expect(response.status).toBe(200);
  });
});

describe('/token refresh_token: rotation, grace window, reuse detection (OAuth 2.1 §4.3)', () => {
  it('rotates the refresh token on every use', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const next = (await (await refresh(t, clientId, tokens.refresh_token!)).json()) as Tokens;
    expect(next.refresh_token).toMatch(/^pcr_/);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.access_token).not.toBe(tokens.access_token);
    expect(await mcpStatus(t, next.access_token)).toBe(200);
  });

  it('answers the previous refresh token within the grace window with the SAME new pair', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const first = (await (await refresh(t, clientId, tokens.refresh_token!)).json()) as Tokens;
    t.clock.advance(10_000);
    const retry = await refresh(t, clientId, tokens.refresh_token!);
    expect(retry.status).toBe(200);
    const again = (await retry.json()) as Tokens;
    expect(again.access_token).toBe(first.access_token);
    expect(again.refresh_token).toBe(first.refresh_token);
    expect(again.expires_in).toBe(3590);
    // The family is intact: the new refresh token still works.
    expect((await refresh(t, clientId, first.refresh_token!)).status).toBe(200);
  });

  it('revokes the whole grant when a rotated-out refresh token is used after the grace window', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const next = (await (await refresh(t, clientId, tokens.refresh_token!)).json()) as Tokens;
    t.clock.advance(31_000);
    const replay = await refresh(t, clientId, tokens.refresh_token!);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await mcpStatus(t, next.access_token)).toBe(401);
    expect(await (await refresh(t, clientId, next.refresh_token!)).json()).toMatchObject({
      error: 'invalid_grant',
    });
    expect(await grants(t)).toBe(0);
  });

  it('revokes the grant when a token two generations old is replayed, even inside a grace window', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const second = (await (await refresh(t, clientId, tokens.refresh_token!)).json()) as Tokens;
    const third = (await (await refresh(t, clientId, second.refresh_token!)).json()) as Tokens;
    const replay = await refresh(t, clientId, tokens.refresh_token!);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await mcpStatus(t, third.access_token)).toBe(401);
  });

  it('does not revoke anything for a forged refresh token', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const [prefix] = tokens.refresh_token!.split('.');
    const forged = `${prefix}.${'A'.repeat(43)}.${'B'.repeat(22)}`;
    expect(await (await refresh(t, clientId, forged)).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await mcpStatus(t, tokens.access_token)).toBe(200);
  });

  it('binds the refresh token to its client, scope and resource', async () => {
    const t = createTestGateway({
      config: { scopes: { supported: ['mcp', 'mcp:admin'], default: ['mcp'] } },
    });
    const { tokens, clientId } = await obtainTokens(t, { scope: 'mcp mcp:admin' });
    const other = await registerClient(t);
    expect(await (await refresh(t, other.client_id!, tokens.refresh_token!)).json()).toMatchObject({
      error: 'invalid_grant',
    });
    const wider = await refresh(t, clientId, tokens.refresh_token!, { scope: 'mcp offline_access' });
    expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
    const foreign = await refresh(t, clientId, tokens.refresh_token!, {
      resource: 'https://other.example/mcp',
    });
    expect(await foreign.json()).toMatchObject({ error: 'invalid_target' });
    const narrower = (await (
      await refresh(t, clientId, tokens.refresh_token!, { scope: 'mcp' })
    ).json()) as Tokens;
    expect(narrower.scope).toBe('mcp');
    // The rotated refresh token keeps the full grant (OAuth 2.1 §4.3.1).
    const full = (await (await refresh(t, clientId, narrower.refresh_token!)).json()) as Tokens;
    expect(full.scope).toBe('mcp mcp:admin');
  });

  it('expires refresh tokens after their lifetime', async () => {
    const t = createTestGateway({ config: { tokens: { refreshTokenTtl: 3600 * 24 } } });
    const { tokens, clientId } = await obtainTokens(t);
    t.clock.advance(3600 * 24 * 1000 + 1000);
    expect(await (await refresh(t, clientId, tokens.refresh_token!)).json()).toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('issues no refresh token to a client that did not register the refresh_token grant', async () => {
    const t = createTestGateway();
    const client = await registerClient(t, { grant_types: ['authorization_code'] });
    const { tokens } = await obtainTokens(t, { client });
    expect(tokens.refresh_token).toBeUndefined();
    expect(await mcpStatus(t, tokens.access_token)).toBe(200);
  });
});
