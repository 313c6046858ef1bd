// portcullis/sdk: the SDK drives its own OAuth flow through PortcullisOAuthProvider against the real
// oidc-provider, and what it stores is what the auth-aware fetch and `portcullis status` read.
//
// The client is pre-registered: the SDK's own DCR sends the challenged scope (mcp:read) in the
// registration metadata, which oidc-provider refuses for resource scopes, and the SDK does not retry.
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { readServerState } from '../../src/client/state.js';
import { PortcullisOAuthProvider } from '../../src/sdk/provider.js';
import { createMemoryStore } from '../../src/store/memory.js';
import {
  browserLogin,
  connectMcp,
  echo,
  recordAuthorizationRequests,
  startServers,
} from './client-helpers.js';

describe('the SDK provider adapter', () => {
  it('logs in through the SDK flow and keeps its records where readServerState finds them', async () => {
    const { as, mcp } = await startServers({
      as: {
        clients: [
          {
            client_id: 'sdk-host',
            token_endpoint_auth_method: 'none',
            application_type: 'native',
            // RFC 8252 §7.3: any port on the loopback redirect of a native client.
            redirect_uris: ['http://127.0.0.1/callback'],
            grant_types: ['authorization_code', 'refresh_token'],
          },
        ],
      },
    });
    const authRequests = recordAuthorizationRequests(as);
    const store = createMemoryStore();
    const interaction = browserLogin();
    onTestFinished(() => interaction.close?.());
    const provider = new PortcullisOAuthProvider({
      serverUrl: mcp.url,
      store,
      interaction,
      clientId: 'sdk-host',
    });
    await provider.prepare();
    expect(provider.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const client = new Client({ name: 'sdk-host', version: '1.0.0' });
    onTestFinished(() => client.close());
    const firstTry = new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider });
    await expect(client.connect(firstTry)).rejects.toBeInstanceOf(UnauthorizedError);
    const code = provider.takeAuthorizationCode();
    expect(code).toEqual(expect.any(String));
    await firstTry.finishAuth(code!);
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { authProvider: provider }));

    const result = await client.callTool({ name: 'echo', arguments: { text: 'via the SDK flow' } });
    expect(result.content).toEqual([{ type: 'text', text: 'via the SDK flow' }]);
    expect(authRequests).toHaveLength(1);
    expect(authRequests[0]?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authRequests[0]?.searchParams.get('resource')).toBe(mcp.url);

    const { server, tokens } = await readServerState(store, mcp.url);
    expect(server).toMatchObject({
      serverUrl: mcp.url,
      resourceMetadataUrl: mcp.resourceMetadataUrl,
      protectedResource: { resource: mcp.url },
      authorizationServer: { issuer: as.issuer },
    });
    expect(tokens).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresAt: expect.any(Number),
    });
    expect(mcp.lastAuthorization).toBe(`Bearer ${tokens!.accessToken}`);

    // The auth-aware fetch on the same Store uses that login as is: no login, no token request.
    const tokenRequests = as.requests.count('/token');
    const viaFetch = await connectMcp(mcp.url, createAuthFetch({ serverUrl: mcp.url, store }));
    expect(await echo(viaFetch, 'same login')).toBe('same login');
    expect(as.requests.count('/token')).toBe(tokenRequests);
    expect(authRequests).toHaveLength(1);
  });
});
