import { describe, expect, it } from 'vitest';
import {
  bearer,
  createTestGateway,
  form,
  ISSUER,
  MCP_URL,
  obtainTokens,
  registerClient,
  type TestGateway,
} from './helpers.js';

async function mcpStatus(t: TestGateway, accessToken: string) {
  return (await t.handle('/mcp', bearer(accessToken))).status;
}

describe('/revoke (RFC 7009)', () => {
  it('answers 200 for an unknown token (§2.2)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const response = await t.handle('/revoke', form({ client_id: client_id!, token: 'whatever' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('revoking a refresh token revokes the grant and its access tokens (§2.1)', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const response = await t.handle(
      '/revoke',
      form({ client_id: clientId, token: tokens.refresh_token!, token_type_hint: 'refresh_token' }),
    );
    expect(response.status).toBe(200);
    expect(await mcpStatus(t, tokens.access_token)).toBe(401);
    const refresh = await t.handle(
      '/token',
      form({ grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! }),
    );
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('revoking an access token leaves the refresh token working', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    await t.handle('/revoke', form({ client_id: clientId, token: tokens.access_token }));
    expect(await mcpStatus(t, tokens.access_token)).toBe(401);
    const refresh = await t.handle(
      '/token',
      form({ grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! }),
    );
    expect(refresh.status).toBe(200);
  });

  it("only revokes the caller's own tokens, answering 200 either way", async () => {
    const t = createTestGateway();
    const { tokens } = await obtainTokens(t);
    const other = await registerClient(t);
    const response = await t.handle(
      '/revoke',
      form({ client_id: other.client_id!, token: tokens.refresh_token! }),
    );
    expect(response.status).toBe(200);
    expect(await mcpStatus(t, tokens.access_token)).toBe(200);
  });

  it('requires client authentication and a token', async () => {
    const t = createTestGateway();
    expect((await t.handle('/revoke', form({ token: 'x' }))).status).toBe(400);
    expect((await t.handle('/revoke', form({ client_id: 'dcr_nobody', token: 'x' }))).status).toBe(401);
    const { client_id } = await registerClient(t);
    expect(await (await t.handle('/revoke', form({ client_id: client_id! }))).json()).toMatchObject({
      error: 'invalid_request',
    });
  });
});

describe('/introspect (RFC 7662)', () => {
  async function confidential(t: TestGateway) {
    const client = await registerClient(t, { token_endpoint_auth_method: 'client_secret_post' });
    const { tokens } = await obtainTokens(t, { client });
    const auth = { client_id: client['client_id']!, client_secret: client['client_secret']! };
    return { client, tokens, auth };
  }

  it('describes an active access token of the calling confidential client', async () => {
    const t = createTestGateway();
    const { tokens, auth } = await confidential(t);
    const response = await t.handle('/introspect', form({ ...auth, token: tokens.access_token }));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({
      active: true,
      client_id: auth.client_id,
      sub: 'alice',
      aud: MCP_URL,
      iss: ISSUER,
      scope: 'mcp',
      token_type: 'Bearer',
      exp: expect.any(Number),
    });
    const refresh = await (
      await t.handle('/introspect', form({ ...auth, token: tokens.refresh_token! }))
    ).json();
    expect(refresh).toMatchObject({ active: true, token_type: 'refresh_token' });
  });

  it('answers active: false for expired, unknown and foreign tokens', async () => {
    const t = createTestGateway();
    const { tokens, auth } = await confidential(t);
    const foreign = await obtainTokens(t);
    const ask = async (token: string) => (await t.handle('/introspect', form({ ...auth, token }))).json();
    expect(await ask('nope')).toEqual({ active: false });
    expect(await ask(foreign.tokens.access_token)).toEqual({ active: false });
    t.clock.advance(3601_000);
    expect(await ask(tokens.access_token)).toEqual({ active: false });
  });

  it('refuses public clients with invalid_client', async () => {
    const t = createTestGateway();
    const { tokens, clientId } = await obtainTokens(t);
    const response = await t.handle('/introspect', form({ client_id: clientId, token: tokens.access_token }));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});
