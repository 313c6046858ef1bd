// Step-up (403 insufficient_scope → re-authorize with the union of scopes, at most twice per call)
// and client_credentials with static confidential clients, against the real oidc-provider.
import { describe, expect, it } from 'vitest';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { readServerState } from '../../src/client/state.js';
import { createMemoryStore } from '../../src/store/memory.js';
import {
  browserLogin,
  callText,
  connectMcp,
  echo,
  recordAuthorizationRequests,
  startRouteServer,
  startServers,
} from './client-helpers.js';

describe('step-up authorization', () => {
  it('re-authorizes with the union of scopes when a tool needs more, then the call succeeds', async () => {
    const { as, mcp } = await startServers();
    const authRequests = recordAuthorizationRequests(as);
    const store = createMemoryStore();
    const interaction = browserLogin();
    const authFetch = createAuthFetch({ serverUrl: mcp.url, store, interaction });
    const client = await connectMcp(mcp.url, authFetch);
    expect((await readServerState(store, mcp.url)).tokens?.scope).toBe('mcp:read');

    expect(await callText(client, 'admin-only')).toBe('admin ok');

    expect(authRequests.map((url) => url.searchParams.get('scope'))).toEqual([
      'mcp:read offline_access',
      'mcp:read offline_access mcp:admin',
    ]);
    const forbidden = mcp.requests.filter((r) => r.status === 403);
    expect(forbidden).toHaveLength(1);
    expect(forbidden[0]?.rpcMethods).toEqual(['tools/call']);
    const { tokens, server } = await readServerState(store, mcp.url);
    expect(tokens?.scope?.split(' ').sort()).toEqual(['mcp:admin', 'mcp:read']);
    expect(server?.requestedScopes).toEqual(['mcp:read', 'offline_access', 'mcp:admin']);
    // The stepped-up token serves ordinary calls too, without another login.
    expect(await echo(client, 'still fine')).toBe('still fine');
    expect(authRequests).toHaveLength(2);
  });

  it('gives up after two step-ups on a server that keeps answering 403, handing back its answer', async () => {
    const { as } = await startServers();
    const authRequests = recordAuthorizationRequests(as);
    const stubborn = await startRouteServer((origin) => ({
      '/.well-known/oauth-protected-resource/mcp': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [as.issuer] }));
      },
      '/mcp': (req, res) => {
        const rm = `resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`;
        if (!req.headers.authorization) {
          res.writeHead(401, { 'www-authenticate': `Bearer ${rm}, scope="mcp:read"` }).end();
        } else {
          res
            .writeHead(403, {
              'www-authenticate': `Bearer error="insufficient_scope", scope="mcp:read mcp:admin", ${rm}`,
            })
            .end('{"error":"insufficient_scope"}');
        }
      },
    }));
    const serverUrl = `${stubborn.origin}/mcp`;
    const authFetch = createAuthFetch({ serverUrl, store: createMemoryStore(), interaction: browserLogin() });

    const response = await authFetch(serverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'admin-only' } }),
    });

    expect(response.status).toBe(403);
    expect(await response.text()).toBe('{"error":"insufficient_scope"}');
    expect(stubborn.hits.filter((hit) => hit === 'POST /mcp')).toHaveLength(4); // 401, then 403 × 3
    expect(authRequests.map((url) => url.searchParams.get('scope'))).toEqual([
      'mcp:read offline_access',
      'mcp:read offline_access mcp:admin',
      'mcp:read offline_access mcp:admin',
    ]);
  });
});

describe('client_credentials', () => {
  it.each([
    ['client_secret_basic', 'svc-basic'],
    ['client_secret_post', 'svc-post'],
  ] as const)(
    'with a static confidential client (%s), the server sees that client',
    async (method, clientId) => {
      const clientSecret = `${clientId}-secret-with-symbols-~!*`;
      const { as, mcp } = await startServers({
        as: {
          clients: [
            {
              client_id: clientId,
              client_secret: clientSecret,
              token_endpoint_auth_method: method,
              grant_types: ['client_credentials'],
            },
          ],
        },
      });
      const basicHeaders: boolean[] = [];
      as.intercept((req) => {
        if (req.url === '/token') basicHeaders.push(req.headers.authorization?.startsWith('Basic ') ?? false);
        return false;
      });
      const store = createMemoryStore();
      const authFetch = createAuthFetch({
        serverUrl: mcp.url,
        store,
        grant: { type: 'client_credentials' },
        registration: { clientId, clientSecret, tokenEndpointAuthMethod: method },
      });

      const client = await connectMcp(mcp.url, authFetch);
      expect(await callText(client, 'whoami')).toBe(clientId);
      expect(await echo(client, 'machine to machine')).toBe('machine to machine');

      expect(basicHeaders).toEqual([method === 'client_secret_basic']);
      expect(as.requests.filter({ grantType: 'client_credentials' })).toEqual([
        expect.objectContaining({ clientId, status: 200 }),
      ]);
      expect(as.requests.count('/auth')).toBe(0);
      expect(as.requests.count('/reg')).toBe(0);
      const { client: registration, tokens } = await readServerState(store, mcp.url);
      expect(registration).toMatchObject({
        clientId,
        source: 'pre-registered',
        tokenEndpointAuthMethod: method,
      });
      expect(tokens).toMatchObject({ scope: 'mcp:read' });
      expect(tokens?.refreshToken).toBeUndefined();
    },
  );
});
