// The client core against a real oidc-provider protecting a real SDK MCP server: the first login
// through the loopback callback, and a second process living on what the first one stored.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { readServerState } from '../../src/client/state.js';
import { createFileStore } from '../../src/store/file.js';
import { createMemoryStore } from '../../src/store/memory.js';
import {
  browserLogin,
  connectMcp,
  echo,
  recordAuthorizationRequests,
  spawnClientChild,
  startServers,
  tempDir,
} from './client-helpers.js';

describe('first login through the loopback callback', () => {
  it('discovers, registers a native client, logs in, and then tools/list and tools/call work', async () => {
    const { as, mcp } = await startServers();
    const authRequests = recordAuthorizationRequests(as);
    const store = createMemoryStore();
    const interaction = browserLogin();
    const events: string[] = [];
    const authFetch = createAuthFetch({ serverUrl: mcp.url, store, interaction });
    for (const type of ['authorization_required', 'authorized', 'token_refreshed', 'reauth_required'])
      authFetch.events.addEventListener(type, () => events.push(type));

    const client = await connectMcp(mcp.url, authFetch);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'whoami', 'admin-only']));
    expect(await echo(client, 'hello through OAuth')).toBe('hello through OAuth');
    expect(await client.callTool({ name: 'whoami', arguments: {} })).toMatchObject({
      content: [{ type: 'text', text: 'alice' }],
    });

    // One login, in the browser, with PKCE S256, the resource, and the challenged scope.
    expect(events).toEqual(['authorization_required', 'authorized']);
    expect(interaction.opened).toHaveLength(1);
    expect(authRequests).toHaveLength(1);
    const params = authRequests[0]!.searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('resource')).toBe(mcp.url);
    expect(params.get('scope')).toBe('mcp:read offline_access');
    expect(params.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    // The Store holds the discovery, a DCR registration the AS knows as native, and tokens.
    const { server, client: registration, tokens } = await readServerState(store, mcp.url);
    expect(server).toMatchObject({
      serverUrl: mcp.url,
      resource: mcp.url,
      resourceMetadataUrl: mcp.resourceMetadataUrl,
      protectedResource: { resource: mcp.url, authorization_servers: [as.issuer] },
      authorizationServer: { issuer: as.issuer, code_challenge_methods_supported: ['S256'] },
      requestedScopes: ['mcp:read', 'offline_access'],
      callbackPort: Number(new URL(params.get('redirect_uri')!).port),
    });
    expect(server?.lastError).toBeUndefined();
    expect(registration).toMatchObject({
      issuer: as.issuer,
      source: 'dcr',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [params.get('redirect_uri')],
    });
    const registered = as.registeredClients().get(registration!.clientId);
    expect(registered).toMatchObject({
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [params.get('redirect_uri')],
      token_endpoint_auth_method: 'none',
    });
    expect(tokens).toMatchObject({
      issuer: as.issuer,
      tokenType: expect.stringMatching(/^bearer$/i),
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresAt: expect.any(Number),
    });
    // The MCP server saw that very token.
    expect(mcp.lastAuthorization).toBe(`Bearer ${tokens!.accessToken}`);
    // oidc-provider refuses resource scopes in registration metadata: registered again without them.
    expect(as.requests.filter('/reg').map((r) => r.status)).toEqual([400, 201]);
    expect(as.requests.grants('authorization_code')).toBe(1);
  });
});

describe('a new process', () => {
  it('reuses the stored tokens without a login or a token request', async () => {
    const { as, mcp } = await startServers();
    const dir = await tempDir();
    const store = await createFileStore({ dir });
    const authFetch = createAuthFetch({ serverUrl: mcp.url, store, interaction: browserLogin() });
    expect(await echo(await connectMcp(mcp.url, authFetch), 'first process')).toBe('first process');
    const tokens = (await readServerState(store, mcp.url)).tokens!;
    await store.close();
    const before = { auth: as.requests.count('/auth'), token: as.requests.count('/token') };

    const child = spawnClientChild({ dir, serverUrl: mcp.url, text: 'second process' });
    const { code, stdout, stderr } = await child.exit;

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({
      echoed: 'second process',
      refreshed: 0,
      sentTokenHash: createHash('sha256').update(tokens.accessToken).digest('hex'),
    });
    expect(as.requests.count('/auth')).toBe(before.auth);
    expect(as.requests.count('/token')).toBe(before.token);
  });

  it('without a login to reuse, fails with authorization_required instead of opening a browser', async () => {
    const { as, mcp } = await startServers();
    const dir = await tempDir();
    const { code, stderr } = await spawnClientChild({ dir, serverUrl: mcp.url, text: 'x' }).exit;
    expect(code).toBe(1);
    expect(stderr).toContain(
      `authorization_required: ${mcp.url} needs a login, and no way to ask a person was given`,
    );
    expect(as.requests.count('/auth')).toBe(0);
  });
});
