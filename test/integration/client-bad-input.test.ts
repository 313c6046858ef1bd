// Bad input from the network: each case gets a clear, typed error naming the problem, and the Store
// loses nothing (snapshots before and after). Hostile documents come from small 127.0.0.1 servers;
// the callback cases run a real login against the real oidc-provider.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { ClientError } from '../../src/client/errors.js';
import { createLoopbackInteraction } from '../../src/client/loopback.js';
import { clientKey, NS, readServerState, tokenKey } from '../../src/client/state.js';
import type { Interaction } from '../../src/client/types.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { alice, recordingFetch, snapshotStore, startRouteServer, startServers } from './client-helpers.js';

/** A store already holding another server's login, which no failure here may touch. */
async function storeWithAnotherLogin() {
  const store = createMemoryStore();
  const other = 'https://other.example.com/mcp';
  const issuer = 'https://login.other.example.com';
  await store.set(NS.servers, other, {
    serverUrl: other,
    authorizationServer: { issuer, code_challenge_methods_supported: ['S256'] },
    callbackPort: 43123,
    updatedAt: 1,
  });
  await store.set(NS.clients, clientKey(other, issuer), {
    issuer,
    clientId: 'other-client',
    tokenEndpointAuthMethod: 'none',
    redirectUris: ['http://127.0.0.1:43123/callback'],
    source: 'dcr',
    registeredAt: 1,
  });
  await store.set(NS.tokens, tokenKey(other, issuer), {
    issuer,
    accessToken: 'other-access',
    tokenType: 'Bearer',
    refreshToken: 'other-refresh',
    issuedAt: 1,
    expiresAt: Date.now() + 3_600_000,
  });
  return store;
}

/** An interaction that records whether anything reached it; no browser is ever opened. */
function watchedInteraction(): Interaction & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    redirectUri: async () => {
      calls.push('redirectUri');
      return 'http://127.0.0.1:1/callback';
    },
    authorize: async (url) => {
      calls.push(`authorize ${url.href}`);
      throw new Error('the browser must not be opened');
    },
  };
}

type Route = (req: IncomingMessage, res: ServerResponse) => void;
const json =
  (body: unknown): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

/**
 * An MCP server at /mcp whose 401 points at /prm, and an AS at the same origin. `routes` may
 * replace the PRM and AS metadata documents.
 */
async function hostile(routes: (origin: string) => Record<string, Route>) {
  const server = await startRouteServer((origin) => ({
    '/mcp': (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/prm"` }).end();
    },
    '/prm': json({ resource: `${origin}/mcp`, authorization_servers: [origin] }),
    '/.well-known/oauth-authorization-server': json(asMetadata(origin)),
    ...routes(origin),
  }));
  return { ...server, serverUrl: `${server.origin}/mcp` };
}

function asMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    code_challenge_methods_supported: ['S256'],
  };
}

/** Calls the server through the auth-aware fetch; returns the error it must fail with. */
async function failure(serverUrl: string, opts: { fetch?: typeof fetch } = {}) {
  const store = await storeWithAnotherLogin();
  const before = await snapshotStore(store);
  const interaction = watchedInteraction();
  const authFetch = createAuthFetch({ serverUrl, store, interaction, ...opts });
  const error = await authFetch(serverUrl, { method: 'POST', body: '{}' }).then(
    (response) => new Error(`expected a failure, got HTTP ${response.status}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  // Nothing lost, nothing half-written: not even a record of the failing server.
  expect(await snapshotStore(store)).toEqual(before);
  expect(interaction.calls).toEqual([]);
  return error as ClientError;
}

describe('hostile metadata', () => {
  it('malformed protected resource metadata JSON', async () => {
    const { serverUrl, origin } = await hostile(() => ({
      '/prm': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"resource": "'),
    }));
    expect(await failure(serverUrl)).toMatchObject({
      code: 'discovery_failed',
      message: `protected resource metadata at ${origin}/prm is not JSON (HTTP 200)`,
    });
  });

  it('protected resource metadata of the wrong shape', async () => {
    const { serverUrl, origin } = await hostile((o) => ({
      '/prm': json({ resource: `${o}/mcp`, authorization_servers: 'not a list' }),
    }));
    expect(await failure(serverUrl)).toMatchObject({
      code: 'discovery_failed',
      message: expect.stringContaining(
        `protected resource metadata at ${origin}/prm is malformed at authorization_servers`,
      ),
    });
  });

  it('authorization server metadata larger than 256 KiB, streamed without a length', async () => {
    const { serverUrl, origin } = await hostile((o) => ({
      '/.well-known/oauth-authorization-server': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(JSON.stringify(asMetadata(o)).slice(0, -1));
        for (let i = 0; i < 40 && !res.destroyed; i++) res.write(`,"padding${i}":"${'x'.repeat(8 * 1024)}"`);
        res.end('}');
      },
    }));
    expect(await failure(serverUrl)).toMatchObject({
      code: 'discovery_failed',
      message: expect.stringContaining(
        `response from ${origin}/.well-known/oauth-authorization-server is larger than 262144 bytes`,
      ),
    });
  });

  it('authorization server metadata claiming another issuer (mix-up)', async () => {
    const { serverUrl, origin } = await hostile(() => ({
      '/.well-known/oauth-authorization-server': json(asMetadata('https://attacker.example.com')),
    }));
    expect(await failure(serverUrl)).toMatchObject({
      code: 'discovery_failed',
      message: `authorization server metadata at ${origin}/.well-known/oauth-authorization-server claims issuer https://attacker.example.com, expected ${origin} (RFC 8414 §3.3)`,
    });
  });

  it('an authorization server without S256 PKCE, named in the error', async () => {
    const { serverUrl, origin } = await hostile((o) => ({
      '/.well-known/oauth-authorization-server': json({
        ...asMetadata(o),
        code_challenge_methods_supported: ['plain'],
      }),
    }));
    expect(await failure(serverUrl)).toMatchObject({
      code: 'unsupported_authorization_server',
      message: `${origin} does not advertise S256 in code_challenge_methods_supported; MCP requires PKCE with S256, so portcullis will not log in there`,
    });
  });

  it('a cleartext authorization server off loopback, refused before anything is fetched from it', async () => {
    const { serverUrl, origin } = await hostile((o) => ({
      '/prm': json({ resource: `${o}/mcp`, authorization_servers: ['http://example.com'] }),
    }));
    const fetch = recordingFetch();
    expect(await failure(serverUrl, { fetch })).toMatchObject({
      code: 'insecure_url',
      message: 'authorization server must use https (http is allowed only on loopback): http://example.com',
    });
    expect(fetch.urls).toEqual([serverUrl, `${origin}/prm`]);
  });

  it.each(['javascript:alert(document.domain)', 'file:///etc/passwd'])(
    'an authorization endpoint %s, refused before registration or any browser',
    async (endpoint) => {
      const { serverUrl, origin, hits } = await hostile((o) => ({
        '/.well-known/oauth-authorization-server': json({
          ...asMetadata(o),
          authorization_endpoint: endpoint,
        }),
      }));
      expect(await failure(serverUrl)).toMatchObject({
        code: 'insecure_url',
        message: `authorization_endpoint of ${origin} must be an https URL, not ${new URL(endpoint).protocol}`,
      });
      expect(hits).not.toContain('POST /register');
    },
  );
});

/** GET with a chosen Host header (fetch cannot forge one). */
function get(url: string, host?: string) {
  const target = new URL(url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: `${target.pathname}${target.search}`,
        agent: false,
        headers: { host: host ?? target.host },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    )
      .on('error', reject)
      .end();
  });
}

describe('hostile callbacks during a real login', () => {
  type Forgery = (callback: URL) => { url: URL; host?: string };
  it.each<[string, Forgery, string]>([
    [
      'the wrong state',
      (u) => ({ url: withParam(u, 'state', 'forged-state') }),
      'This login link is not the one portcullis is waiting for.',
    ],
    ['the wrong Host (DNS rebinding)', (u) => ({ url: u, host: 'rebind.attacker.example' }), 'wrong host'],
  ])(
    'a callback with %s is refused, and the real one still completes the login',
    async (_name, forge, refusal) => {
      const { as, mcp } = await startServers();
      const store = await storeWithAnotherLogin();
      const before = await snapshotStore(store);
      const refusals: Array<{ status: number; body: string }> = [];
      const interaction = createLoopbackInteraction({
        openBrowser: async (url) => {
          const redirectUri = url.searchParams.get('redirect_uri')!;
          const callback = await completeAuthorization(url, {
            ...alice,
            redirectUri,
            visitRedirectUri: false,
          });
          const forged = forge(callback);
          refusals.push(await get(forged.url.href, forged.host));
          await get(callback.href);
        },
      });
      const authFetch = createAuthFetch({ serverUrl: mcp.url, store, interaction });

      await authFetch.authorize();

      expect(refusals).toEqual([{ status: 400, body: expect.stringContaining(refusal) }]);
      expect(as.requests.grants('authorization_code')).toBe(1);
      expect((await readServerState(store, mcp.url)).tokens?.accessToken).toEqual(expect.any(String));
      expect(await snapshotStore(store)).toMatchObject(before);
    },
  );

  it('a pasted redirect URL with the wrong state fails with authorization_failed and redeems nothing', async () => {
    const { as, mcp } = await startServers();
    const store = await storeWithAnotherLogin();
    const before = await snapshotStore(store);
    const input = new PassThrough();
    const interaction = createLoopbackInteraction({
      openBrowser: false,
      paste: { input },
      onAuthorizationUrl: (url) => {
        const redirectUri = url.searchParams.get('redirect_uri')!;
        void completeAuthorization(url, { ...alice, redirectUri, visitRedirectUri: false }).then((callback) =>
          input.write(`${withParam(callback, 'state', 'pasted-from-another-login').href}\n`),
        );
      },
    });
    const authFetch = createAuthFetch({ serverUrl: mcp.url, store, interaction });

    const error = await authFetch.authorize().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({
      code: 'authorization_failed',
      message: expect.stringMatching(/^the authorization response was rejected: .*"state"/),
    });
    expect(as.requests.grants('authorization_code')).toBe(0);
    const after = await snapshotStore(store);
    expect(after).toMatchObject(before);
    expect((await readServerState(store, mcp.url)).tokens).toBeUndefined();
    expect((await readServerState(store, mcp.url)).server?.lastError).toMatchObject({
      code: 'authorization_failed',
    });
  });
});

function withParam(url: URL, name: string, value: string): URL {
  const copy = new URL(url);
  copy.searchParams.set(name, value);
  return copy;
}
