import { describe, expect, it } from 'vitest';
import { removeServerState, revokeServerTokens } from '../../../src/client/revoke.js';
import {
  type ClientRecord,
  NS,
  readServerState,
  type ServerRecord,
  type TokenRecord,
} from '../../../src/client/state.js';
import { createMemoryStore } from '../../../src/store/memory.js';

const URL_ = 'https://mcp.example/mcp';
const ISSUER = 'https://as.example';
const REVOCATION = 'https://as.example/revoke';

async function loggedIn(revocationEndpoint: string | null = REVOCATION) {
  const store = createMemoryStore();
  const server = {
    serverUrl: URL_,
    authorizationServer: {
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/token`,
      ...(revocationEndpoint ? { revocation_endpoint: revocationEndpoint } : {}),
    },
    updatedAt: 0,
  } as ServerRecord;
  const client: ClientRecord = {
    issuer: ISSUER,
    clientId: 'c1',
    tokenEndpointAuthMethod: 'none',
    redirectUris: [],
    source: 'dcr',
    registeredAt: 0,
  };
  const tokens: TokenRecord = {
    issuer: ISSUER,
    accessToken: 'AT',
    refreshToken: 'RT',
    tokenType: 'Bearer',
    issuedAt: 0,
  };
  await store.set(NS.servers, URL_, server);
  await store.set(NS.clients, `${URL_} ${ISSUER}`, client);
  await store.set(NS.tokens, `${URL_} ${ISSUER}`, tokens);
  await store.set('dpop', URL_, { privateJwk: {}, publicJwk: {} });
  return store;
}

/** A revocation endpoint answering per token (RFC 7009 §2.2: 200, or an error body). */
function revocationEndpoint(answers: Record<string, () => Response>) {
  const seen: Array<{ token: string; hint: string }> = [];
  const fetch = (async (_input: string | URL | Request, init: RequestInit = {}) => {
    const body = new URLSearchParams(String(init.body));
    const token = body.get('token') ?? '';
    seen.push({ token, hint: body.get('token_type_hint') ?? '' });
    return answers[token]?.() ?? new Response(null, { status: 200 });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

const oauthError = (error: string, status = 400) =>
  new Response(JSON.stringify({ error }), { status, headers: { 'content-type': 'application/json' } });

describe('server removal', () => {
  it('revokes the refresh token, then the access token (RFC 7009 §2.1), then deletes every record', async () => {
    const store = await loggedIn();
    const { fetch, seen } = revocationEndpoint({});
    expect(await removeServerState(store, URL_, { fetch })).toEqual({
      status: 'revoked',
      issuer: ISSUER,
      revoked: ['refresh_token', 'access_token'],
      notRevocable: [],
      failures: [],
    });
    expect(seen).toEqual([
      { token: 'RT', hint: 'refresh_token' },
      { token: 'AT', hint: 'access_token' },
    ]);
    expect(await readServerState(store, URL_)).toEqual({
      server: undefined,
      client: undefined,
      tokens: undefined,
    });
    expect(await store.get('dpop', URL_)).toBeUndefined();
  });

  it('tells a token the AS cannot revoke from a failure, and reports a partial revocation', async () => {
    const unsupported = await revokeServerTokens(
      await loggedIn(),
      URL_,
      revocationEndpoint({ AT: () => oauthError('unsupported_token_type') }),
    );
    expect(unsupported).toMatchObject({
      status: 'revoked',
      revoked: ['refresh_token'],
      notRevocable: ['access_token'],
    });

    const partial = await revokeServerTokens(
      await loggedIn(),
      URL_,
      revocationEndpoint({ AT: () => oauthError('server_error', 500) }),
    );
    expect(partial).toMatchObject({
      status: 'partial',
      revoked: ['refresh_token'],
      failures: [
        { token: 'access_token', code: 'token_request_failed', message: expect.stringContaining(ISSUER) },
      ],
    });
  });

  it('deletes the records even when no revocation succeeds', async () => {
    const store = await loggedIn();
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const result = await removeServerState(store, URL_, { fetch: failing });
    expect(result.status).toBe('failed');
    expect(result.failures.map((f) => f.token)).toEqual(['refresh_token', 'access_token']);
    expect((await readServerState(store, URL_)).tokens).toBeUndefined();
  });

  it('says when the AS offers no revocation, and sends nothing', async () => {
    const store = await loggedIn(null);
    const { fetch, seen } = revocationEndpoint({});
    expect(await removeServerState(store, URL_, { fetch })).toMatchObject({
      status: 'unsupported',
      issuer: ISSUER,
    });
    expect(seen).toEqual([]);
    expect((await readServerState(store, URL_)).server).toBeUndefined();
  });
});
