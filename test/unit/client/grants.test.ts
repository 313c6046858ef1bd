import { describe, expect, it } from 'vitest';
import { ClientError } from '../../../src/client/errors.js';
import { redeemAuthorizationCode } from '../../../src/client/grants.js';
import type { ClientRecord } from '../../../src/client/state.js';

const as = {
  issuer: 'https://as.example.test',
  token_endpoint: 'https://as.example.test/token',
  authorization_response_iss_parameter_supported: true,
};
const client: ClientRecord = {
  issuer: as.issuer,
  clientId: 'c1',
  tokenEndpointAuthMethod: 'none',
  redirectUris: ['http://127.0.0.1:1/callback'],
  source: 'dcr',
  registeredAt: 0,
};

describe('redeemAuthorizationCode', () => {
  it('refuses a callback without iss from an AS that sends it, telling a paster to paste the whole URL, before any request', async () => {
    const requests: string[] = [];
    const fetch = (async (url: string) => {
      requests.push(String(url));
      return new Response('{}');
    }) as typeof globalThis.fetch;
    const pastedCode = new URL('http://127.0.0.1:1/callback?code=abc&state=s1');
    const error = await redeemAuthorizationCode(
      as,
      client,
      {
        callbackUrl: pastedCode,
        state: 's1',
        codeVerifier: 'v'.repeat(43),
        redirectUri: 'http://127.0.0.1:1/callback',
      },
      { fetch, allowHttp: false, clock: Date.now },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: 'authorization_failed' });
    expect((error as Error).message).toContain('paste the whole redirect URL');
    expect(requests).toEqual([]);
  });

  it('refuses a callback whose iss names another AS (RFC 9207 §2.4), before any request', async () => {
    const requests: string[] = [];
    const fetch = (async (url: string) => {
      requests.push(String(url));
      return new Response('{}');
    }) as typeof globalThis.fetch;
    const callbackUrl = new URL(
      'http://127.0.0.1:1/callback?code=abc&state=s1&iss=https%3A%2F%2Fevil.example.test',
    );
    const error = await redeemAuthorizationCode(
      as,
      client,
      { callbackUrl, state: 's1', codeVerifier: 'v'.repeat(43), redirectUri: 'http://127.0.0.1:1/callback' },
      { fetch, allowHttp: false, clock: Date.now },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'authorization_failed' });
    expect((error as Error).message).not.toContain('paste');
    expect(requests).toEqual([]);
  });
});
