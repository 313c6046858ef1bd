// `startDevGateway`, the embedded default, with real parts: plain http on 127.0.0.1, the dev IdP,
// SQLite under a temporary state directory, and the stdio fixture MCP server spawned per session
// with the user's identity templated into its environment. Then a restart on the same state:
// the tokens survive (SQLite + the key file), and graceful shutdown reaps the child.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevGateway, startDevGateway } from '../../src/gateway/dev.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { startCallbackListener } from '../fixtures/loopback-callback.js';
import { stdioServerCommand } from '../fixtures/mcp-tools.js';
import { authorizationRequest, registerClient } from '../fixtures/oauth-flows.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'portcullis-dev-'));
});

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function start(port = 0): Promise<DevGateway> {
  return startDevGateway({
    port,
    stateDir,
    mcpUpstream: {
      stdio: [stdioServerCommand.command, ...stdioServerCommand.args],
      env: { MCP_USER: '{{user.id}}' },
    },
  });
}

async function tokensFrom(dev: DevGateway) {
  const issuer = new URL(dev.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
  const listener = await startCallbackListener();
  try {
    const client = await registerClient(as, {
      redirect_uris: [listener.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      client_name: 'Dev Client',
    });
    const request = await authorizationRequest(as, client, {
      redirectUri: listener.redirectUri,
      resource: dev.mcpUrl,
    });
    await completeAuthorization(request.url, {
      login: 'demo',
      password: 'anything',
      redirectUri: listener.redirectUri,
    });
    const params = oauth.validateAuthResponse(as, client, await listener.next(), request.state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      listener.redirectUri,
      request.codeVerifier,
      { ...insecure, additionalParameters: { resource: dev.mcpUrl } },
    );
    return { as, client, tokens: await oauth.processAuthorizationCodeResponse(as, client, response) };
  } finally {
    await listener.stop();
  }
}

async function whoami(dev: DevGateway, accessToken: string): Promise<unknown> {
  const client = new Client({ name: 'dev-it', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(dev.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
    }),
  );
  try {
    return (await client.callTool({ name: 'whoami', arguments: {} })).content;
  } finally {
    await client.close();
  }
}

describe('startDevGateway', () => {
  it('serves a stdio MCP server behind the dev IdP, keeps state in SQLite, and survives a restart', async () => {
    const first = await start();
    expect(first.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.mcpUrl).toBe(`${first.issuer}/mcp`);
    const { as, client, tokens } = await tokensFrom(first);
    expect(await whoami(first, tokens.access_token)).toEqual([{ type: 'text', text: 'demo' }]);
    expect((await stat(path.join(stateDir, 'gateway.db'))).isFile()).toBe(true);
    const key = await stat(path.join(stateDir, 'gateway.key'));
    expect(key.mode & 0o777).toBe(0o600);
    const port = first.port;
    await first.close();

    const second = await start(port);
    try {
      // The same access token still works: grants live in SQLite, not in the process.
      expect(await whoami(second, tokens.access_token)).toEqual([{ type: 'text', text: 'demo' }]);
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure),
      );
      expect(refreshed.access_token).not.toBe(tokens.access_token);
    } finally {
      await second.close();
    }
  });

  it('uses non-__Host- cookies without Secure on plain-http loopback (the documented dev exception)', async () => {
    const dev = await start();
    try {
      const as = await registerClient(
        { issuer: dev.issuer, registration_endpoint: `${dev.issuer}/register` } as oauth.AuthorizationServer,
        { redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' },
      );
      const url = new URL(`${dev.issuer}/authorize`);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: as.client_id,
        redirect_uri: 'http://127.0.0.1:9/cb',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }))
        url.searchParams.set(k, v);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const cookie = page.headers.getSetCookie()[0]!;
      expect(cookie).toMatch(/^portcullis-browser=/);
      expect(cookie).not.toMatch(/Secure/);
      expect(cookie).toMatch(/HttpOnly; SameSite=Lax/);
    } finally {
      await dev.close();
    }
  });
});
