// The gateway end to end with real parts on 127.0.0.1: a real oidc-provider as the upstream IdP
// (type: 'oidc'), a real SDK MCP server behind the gateway's HTTP proxy, the fixture browser
// agent for the person (gateway consent, IdP login and consent), oauth4webapi as the MCP client's
// OAuth engine and the SDK client for MCP. The gateway's clock is moved forward to let the IdP's
// access token expire: the gateway refreshes it at the IdP and the MCP server sees the new one.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { createHttpUpstream } from '../../src/gateway/mcp/http-upstream.js';
import { type GatewayServer, startGatewayServer } from '../../src/gateway/server.js';
import { type AuthorizationServer, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { startCallbackListener } from '../fixtures/loopback-callback.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { authorizationRequest, registerClient } from '../fixtures/oauth-flows.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const GATEWAY_CLIENT = { id: 'portcullis-gateway', secret: randomBytes(24).toString('base64url') };

let idp: AuthorizationServer;
let mcp: McpTestServer;
let server: GatewayServer;
let gateway: Gateway;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

beforeAll(async () => {
  let current: Gateway | undefined;
  server = await startGatewayServer(() => current);
  const issuer = server.url;
  idp = await startAuthorizationServer({
    clients: [
      {
        client_id: GATEWAY_CLIENT.id,
        client_secret: GATEWAY_CLIENT.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [`${issuer}/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ],
  });
  mcp = await startMcpServer({ requireAuth: false });
  gateway = createGateway(
    {
      issuer,
      dev: true,
      upstream: {
        type: 'oidc',
        issuer: idp.issuer,
        clientId: GATEWAY_CLIENT.id,
        clientSecret: GATEWAY_CLIENT.secret,
        scopes: ['openid', 'email', 'profile', 'offline_access'],
      },
      tokens: { accessTokenTtl: 7200 },
    },
    {
      clock,
      encryptionKey: randomBytes(32),
      mcpEndpoint: createHttpUpstream({ url: mcp.url, credential: 'upstream-token' }),
    },
  );
  current = gateway;
});

afterAll(async () => {
  await server?.close();
  await mcp?.stop();
  await idp?.stop();
});

async function discover(): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(gateway.config.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  return oauth.processDiscoveryResponse(issuer, response);
}

async function login(opts: { approve?: boolean } = {}) {
  const as = await discover();
  const listener = await startCallbackListener();
  try {
    const client = await registerClient(as, {
      application_type: 'native',
      redirect_uris: [listener.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      client_name: 'Integration Client',
    });
    const resource = gateway.config.resource;
    const request = await authorizationRequest(as, client, { redirectUri: listener.redirectUri, resource });
    await completeAuthorization(request.url, {
      login: 'alice',
      password: 'alice-password',
      approve: opts.approve ?? true,
      redirectUri: listener.redirectUri,
    });
    const callback = await listener.next();
    return { as, client, callback, request, redirectUri: listener.redirectUri, resource };
  } finally {
    await listener.stop();
  }
}

async function connect(accessToken: string) {
  const client = new Client({ name: 'gateway-it', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(gateway.config.resource), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  await client.connect(transport);
  return client;
}

describe('gateway in front of a real OIDC IdP and a real MCP server', () => {
  it('runs registration, consent, IdP login, code exchange, tools and refresh; the IdP token is refreshed by the gateway', async () => {
    const { as, client, callback, request, redirectUri, resource } = await login();
    const params = oauth.validateAuthResponse(as, client, callback, request.state); // RFC 9207 iss checked
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      redirectUri,
      request.codeVerifier,
      {
        ...insecure,
        additionalParameters: { resource },
      },
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    expect(tokens.access_token).toMatch(/^pca_/);
    expect(tokens.refresh_token).toMatch(/^pcr_/);

    const mcpClient = await connect(tokens.access_token);
    const tools = await mcpClient.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const echoed = await mcpClient.callTool({ name: 'echo', arguments: { text: 'through the gateway' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'through the gateway' }]);

    // The MCP server got the user's IdP token, never the gateway's (R14).
    const seen = mcp.requests.map((r) => r.authorization);
    expect(seen.every((a) => a?.startsWith('Bearer '))).toBe(true);
    expect(seen.some((a) => a?.includes(tokens.access_token))).toBe(false);
    const firstUpstream = seen.at(-1);

    // The IdP's 300 s access token expires; the gateway refreshes it before use.
    const refreshesBefore = idp.requests.grants('refresh_token');
    offsetMs += 300_000;
    const again = await mcpClient.callTool({ name: 'echo', arguments: { text: 'still here' } });
    expect(again.content).toEqual([{ type: 'text', text: 'still here' }]);
    expect(idp.requests.grants('refresh_token')).toBe(refreshesBefore + 1);
    const secondUpstream = mcp.requests.at(-1)?.authorization;
    expect(secondUpstream).toMatch(/^Bearer /);
    expect(secondUpstream).not.toBe(firstUpstream);
    await mcpClient.close();

    // The client refreshes its own gateway tokens: rotation, and the old one dies after the grace window.
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, {
        ...insecure,
        additionalParameters: { resource },
      }),
    );
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const after = await connect(refreshed.access_token);
    expect((await after.listTools()).tools.length).toBeGreaterThan(0);
    await after.close();

    // Revocation (RFC 7009): the refresh token takes the whole grant with it.
    const revoked = await oauth.revocationRequest(
      as,
      client,
      oauth.None(),
      refreshed.refresh_token!,
      insecure,
    );
    await oauth.processRevocationResponse(revoked);
    const denied = await fetch(gateway.config.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${refreshed.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers a denial at the gateway consent with access_denied and iss, without going to the IdP', async () => {
    const authorizeBefore = idp.requests.count({ path: '/auth' });
    const { callback } = await login({ approve: false });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('iss')).toBe(gateway.config.issuer);
    expect(idp.requests.count({ path: '/auth' })).toBe(authorizeBefore);
  });

  it('serves health, metadata and the 401 challenge over a real socket', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const prm = await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(prm.resource).toBe(gateway.config.resource);
    const challenge = await fetch(gateway.config.resource, { method: 'POST', body: '{}' });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp", scope="mcp"`,
    );
  });
});
