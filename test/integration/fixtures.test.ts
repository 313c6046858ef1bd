// Self-tests of the fixture MCP server as a protected resource of the fixture AS, driven by real
// clients: the SDK Client over Streamable HTTP, with tokens from oauth4webapi flows.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type AuthorizationServerOptions,
  DEFAULT_USERS,
  startAuthorizationServer,
} from '../fixtures/authorization-server.js';
import { type McpServerOptions, startMcpServer } from '../fixtures/mcp-server.js';
import {
  authorizationCodeFlow,
  clientCredentialsGrant,
  discoverAuthorizationServer,
  refreshTokenGrant,
} from '../fixtures/oauth-flows.js';

const alice = { login: 'alice', password: DEFAULT_USERS['alice']!.password };

async function setup(asOpts: AuthorizationServerOptions = {}, mcpOpts: McpServerOptions = {}) {
  const as = await startAuthorizationServer(asOpts);
  onTestFinished(() => as.stop());
  const mcp = await startMcpServer({ authorizationServer: as, ...mcpOpts });
  onTestFinished(() => mcp.stop());
  onTestFinished(() => expect(as.serverErrors).toEqual([]));
  return { as, mcp };
}

async function connect(
  url: string,
  token?: string,
  client = new Client({ name: 'fixture-test', version: '1.0.0' }),
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : {},
  });
  await client.connect(transport);
  onTestFinished(() => client.close());
  return { client, transport };
}

const textOf = (result: Awaited<ReturnType<Client['callTool']>>) =>
  (result.content as Array<{ type: string; text?: string }>)[0]?.text;

function postJsonRpc(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('fixture MCP server as a protected resource', () => {
  it('serves path-inserted RFC 9728 metadata naming the fixture AS', async () => {
    const { as, mcp } = await setup();
    const response = await fetch(mcp.resourceMetadataUrl);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      resource: mcp.url,
      authorization_servers: [as.issuer],
      scopes_supported: ['mcp:read', 'mcp:write', 'mcp:admin'],
      bearer_methods_supported: ['header'],
    });
    expect((await fetch(`${mcp.origin}/.well-known/oauth-protected-resource`)).status).toBe(404);
  });

  it('answers a request without a token with 401 and the resource_metadata challenge', async () => {
    const { mcp } = await setup();
    const response = await postJsonRpc(mcp.url, initialize);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${mcp.resourceMetadataUrl}", scope="mcp:read"`,
    );
  });

  it.each([
    ['not a JWT', async () => 'not-a-jwt'],
    ['expired', async (as, url) => as.mintAccessToken({ resource: url, expiresInSeconds: -60 })],
    ['for another resource', async (as) => as.mintAccessToken({ resource: 'http://127.0.0.1:1/other' })],
    [
      'from another issuer',
      async (as, url) => as.mintAccessToken({ resource: url, issuer: 'http://127.0.0.1:2' }),
    ],
  ] satisfies Array<[string, (as: Awaited<ReturnType<typeof setup>>['as'], url: string) => Promise<string>]>)(
    'answers a token that is %s with 401 invalid_token',
    async (_name, makeToken) => {
      const { as, mcp } = await setup();
      const response = await postJsonRpc(mcp.url, initialize, {
        authorization: `Bearer ${await makeToken(as, mcp.url)}`,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer error="invalid_token", resource_metadata="${mcp.resourceMetadataUrl}", scope="mcp:read"`,
      );
    },
  );

  it('lets an SDK client with a token from DCR + PKCE + resource list tools and call echo', async () => {
    const { as, mcp } = await setup();
    const { tokens } = await authorizationCodeFlow({
      issuer: as.issuer,
      resource: mcp.url,
      scope: 'mcp:read mcp:write',
      user: alice,
    });
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ aud: mcp.url, iss: as.issuer, sub: 'alice', scope: 'mcp:read mcp:write' });

    const { client } = await connect(mcp.url, tokens.access_token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'add', 'big', 'progress', 'admin-only', 'ask', 'sample', 'whoami']),
    );
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('hello');
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    expect(mcp.lastAuthorization).toBe(`Bearer ${tokens.access_token}`);
    expect(as.requests.count('/reg')).toBe(1);
    expect(as.requests.count('/auth')).toBe(1);
    expect(as.requests.grants('authorization_code')).toBe(1);
  });

  it('answers tools/call admin-only without mcp:admin with 403 insufficient_scope, and runs it with', async () => {
    const { as, mcp } = await setup();
    const reader = await as.mintAccessToken({ resource: mcp.url, scope: 'mcp:read' });
    const { client, transport } = await connect(mcp.url, reader);
    const response = await postJsonRpc(
      mcp.url,
      { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'admin-only', arguments: {} } },
      {
        authorization: `Bearer ${reader}`,
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      },
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="mcp:read mcp:admin", resource_metadata="${mcp.resourceMetadataUrl}"`,
    );
    await expect(client.callTool({ name: 'admin-only', arguments: {} })).rejects.toMatchObject({ code: 403 });

    const { tokens } = await authorizationCodeFlow({
      issuer: as.issuer,
      resource: mcp.url,
      scope: 'mcp:read mcp:admin',
      user: alice,
    });
    const { client: admin } = await connect(mcp.url, tokens.access_token);
    expect(textOf(await admin.callTool({ name: 'admin-only', arguments: {} }))).toBe('admin ok');
  });

  it('rotates the refresh token on every use, counts each grant, and revokes on reuse', async () => {
    const { as, mcp } = await setup();
    const first = await authorizationCodeFlow({
      issuer: as.issuer,
      resource: mcp.url,
      scope: 'mcp:read',
      user: alice,
    });
    expect(first.tokens.refresh_token).toBeTruthy();

    // No `resource` on the refresh: the AS falls back to the granted one (useGrantedResource).
    const second = await refreshTokenGrant(first.as, first.client, first.tokens.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.tokens.refresh_token);
    expect(decodeJwt(second.access_token)).toMatchObject({ aud: mcp.url, scope: 'mcp:read' });
    expect(as.requests.grants('refresh_token')).toBe(1);

    const { client } = await connect(mcp.url, second.access_token);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'fresh' } }))).toBe('fresh');

    await expect(
      refreshTokenGrant(first.as, first.client, first.tokens.refresh_token!),
    ).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // Reuse of a rotated token revoked the whole grant, the newest refresh token included.
    await expect(
      refreshTokenGrant(first.as, first.client, second.refresh_token!, { resource: mcp.url }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(as.requests.count({ path: '/token', grantType: 'refresh_token', status: 400 })).toBe(2);
  });

  it.each(['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const)(
    'issues a client_credentials token for the MCP resource to a static %s client',
    async (method) => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'service-key', alg: 'ES256' };
      const secret = method === 'private_key_jwt' ? {} : { client_secret: 'service-secret-value' };
      const { as, mcp } = await setup({
        clients: [
          {
            client_id: 'service',
            token_endpoint_auth_method: method,
            grant_types: ['client_credentials'],
            ...secret,
            ...(method === 'private_key_jwt' ? { jwks: { keys: [jwk] } } : {}),
          },
        ],
      });
      const clientAuth = {
        client_secret_basic: () => oauth.ClientSecretBasic('service-secret-value'),
        client_secret_post: () => oauth.ClientSecretPost('service-secret-value'),
        private_key_jwt: () => oauth.PrivateKeyJwt({ key: privateKey, kid: 'service-key' }),
      }[method]();
      const metadata = await discoverAuthorizationServer(as.issuer);
      const tokens = await clientCredentialsGrant(metadata, { client_id: 'service' }, clientAuth, {
        resource: mcp.url,
        scope: 'mcp:read mcp:write',
      });
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        aud: mcp.url,
        sub: 'service',
        scope: 'mcp:read mcp:write',
      });
      expect(tokens.refresh_token).toBeUndefined();

      const { client } = await connect(mcp.url, tokens.access_token);
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('service');
      expect(as.requests.grants('client_credentials')).toBe(1);
    },
  );

  it('restart() drops sessions: the old Mcp-Session-Id gets 404, a new session works', async () => {
    const { as, mcp } = await setup();
    const token = await as.mintAccessToken({ resource: mcp.url, scope: 'mcp:read' });
    const { transport } = await connect(mcp.url, token);
    const oldSession = transport.sessionId!;
    expect(mcp.sessionIds).toEqual([oldSession]);

    await mcp.restart();
    const response = await postJsonRpc(
      mcp.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      {
        authorization: `Bearer ${token}`,
        'mcp-session-id': oldSession,
        'mcp-protocol-version': '2025-06-18',
      },
    );
    expect(response.status).toBe(404);

    const { client, transport: fresh } = await connect(mcp.url, token);
    expect(fresh.sessionId).not.toBe(oldSession);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'again' } }))).toBe('again');
  });

  it('round-trips elicitation, sampling, progress, list_changed, a resource, a prompt and 1 MiB results', async () => {
    const { as, mcp } = await setup();
    const token = await as.mintAccessToken({ resource: mcp.url, scope: 'mcp:read' });
    const client = new Client(
      { name: 'fixture-test', version: '1.0.0' },
      { capabilities: { elicitation: {}, sampling: {} } },
    );
    client.setRequestHandler(ElicitRequestSchema, async (request) => ({
      action: 'accept',
      content: { answer: `yes to ${request.params.message}` },
    }));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'sampled!' },
      model: 'fixture-model',
    }));
    const listChanged = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    const { transport } = await connect(mcp.url, token, client);

    const asked = JSON.parse(textOf(await client.callTool({ name: 'ask', arguments: { message: 'tea?' } }))!);
    expect(asked).toEqual({ action: 'accept', content: { answer: 'yes to tea?' } });
    expect(textOf(await client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }))).toBe('sampled!');

    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);

    const big = textOf(await client.callTool({ name: 'big', arguments: { bytes: 1024 * 1024 } }));
    expect(big).toHaveLength(1024 * 1024);

    const resource = await client.readResource({ uri: 'fixture://info' });
    expect(resource.contents[0]).toMatchObject({ text: 'portcullis fixture MCP server' });
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Hello, Ada!' });

    await mcp.waitForRequest(
      (r) => r.method === 'GET' && r.sessionId === transport.sessionId && r.status === 200,
    );
    await mcp.notifyListChanged();
    await listChanged;
  });

  it('serves an unprotected server when requireAuth is false, and a mismatching PRM resource on request', async () => {
    const open = await startMcpServer({ requireAuth: false });
    onTestFinished(() => open.stop());
    const { client } = await connect(open.url);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('anonymous');
    expect((await fetch(open.resourceMetadataUrl)).status).toBe(404);

    const { mcp } = await setup({}, { resourceOverride: 'http://127.0.0.1:1/elsewhere' });
    expect(await (await fetch(mcp.resourceMetadataUrl)).json()).toMatchObject({
      resource: 'http://127.0.0.1:1/elsewhere',
    });
  });
});
