// The gateway's token lifecycle end to end, driven by the SDK's own client and OAuthClientProvider
// (see gateway-e2e-stack.ts) against a real oidc-provider upstream: the gateway access token
// expires and the SDK refreshes it; rotation with a grace window, reuse after it revoking the
// grant (docs/decisions/0010); RFC 7009 revocation at the gateway's /revoke. Only the gateway's
// clock moves; the IdP and the client keep real time.
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpUpstream } from '../../src/gateway/mcp/http-upstream.js';
import { createStdioUpstream } from '../../src/gateway/mcp/stdio-upstream.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { stdioServerCommand } from '../fixtures/mcp-tools.js';
import {
  connectSdk,
  MemoryOAuthProvider,
  mcpWithToken,
  postForm,
  type Stack,
  startStack,
  textOf,
} from './gateway-e2e-stack.js';

const ACCESS_TTL = 600;
const GRACE = 30;

let mcp: McpTestServer;
let stack: Stack<'stdio' | 'http'>;
const providers: MemoryOAuthProvider[] = [];

async function provider(): Promise<MemoryOAuthProvider> {
  const created = await MemoryOAuthProvider.create();
  providers.push(created);
  return created;
}

beforeAll(async () => {
  mcp = await startMcpServer({ requireAuth: false });
  const tokens = { accessTokenTtl: ACCESS_TTL, refreshGraceSeconds: GRACE };
  stack = await startStack({
    stdio: {
      mcpEndpoint: () =>
        createStdioUpstream({
          command: [stdioServerCommand.command, ...stdioServerCommand.args],
          env: { MCP_USER: '{{user.id}}' },
        }),
      tokens,
    },
    http: {
      mcpEndpoint: () => createHttpUpstream({ url: mcp.url, credential: 'upstream-token' }),
      tokens,
    },
  });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.stop()));
  await stack?.stop();
  await mcp?.stop();
});

describe('gateway tokens through the SDK client', () => {
  it('refreshes an expired access token, rotates, honours the grace window, then revokes the grant on reuse', async () => {
    const gw = stack.gateways.stdio;
    const tokenUrl = `${gw.issuer}/token`;
    const host = await provider();
    const { client, transport } = await connectSdk(gw.mcpUrl, host);
    const clientId = host.clientInformation()!.client_id;
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    const sessionId = transport.sessionId;
    const first = host.tokens()!;
    expect(first.expires_in).toBe(ACCESS_TTL);

    // The gateway access token expires; the gateway answers 401 and the SDK refreshes on its own.
    gw.advance(ACCESS_TTL + 1);
    expect((await mcpWithToken(gw.mcpUrl, first.access_token)).status).toBe(401);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    expect(host.savedTokens).toHaveLength(2);
    expect(host.authorizations).toHaveLength(1); // no browser
    expect(transport.sessionId).toBe(sessionId); // the same MCP session, the same child
    const second = host.tokens()!;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).toMatch(/^pcr_/);
    expect(second.refresh_token).not.toBe(first.refresh_token); // rotated

    // A retry with the previous refresh token inside the grace window gets the same new pair.
    const retry = await postForm(tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token!,
      client_id: clientId,
    });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('cache-control')).toContain('no-store');
    expect(retry.body).toMatchObject({
      access_token: second.access_token,
      refresh_token: second.refresh_token,
      token_type: 'Bearer',
    });
    expect((await mcpWithToken(gw.mcpUrl, second.access_token)).status).not.toBe(401);

    // After the grace window the same token is reuse: invalid_grant, and the whole grant is gone.
    gw.advance(GRACE + 1);
    const reuse = await postForm(tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token!,
      client_id: clientId,
    });
    expect(reuse.status).toBe(400);
    expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
    const denied = await mcpWithToken(gw.mcpUrl, second.access_token);
    expect(denied.status).toBe(401);
    expect(denied.challenge).toContain('error="invalid_token"');
    const current = await postForm(tokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: second.refresh_token!,
      client_id: clientId,
    });
    expect(current.status).toBe(400);
    expect(current.body).toMatchObject({ error: 'invalid_grant' });

    // The SDK cannot refresh a revoked grant: back to the browser, then it carries on.
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(host.authorizations).toHaveLength(2);
    await transport.finishAuth(host.takeCode());
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    expect(host.tokens()!.access_token).not.toBe(second.access_token);
    await client.close();
  });

  it('revokes at /revoke (RFC 7009): an access token stops working at once; a refresh token takes the grant with it', async () => {
    const gw = stack.gateways.http;
    const revokeUrl = `${gw.issuer}/revoke`;
    const host = await provider();
    const { client } = await connectSdk(gw.mcpUrl, host);
    const clientId = host.clientInformation()!.client_id;
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe('before');
    const first = host.tokens()!;

    const revoked = await postForm(revokeUrl, {
      token: first.access_token,
      token_type_hint: 'access_token',
      client_id: clientId,
    });
    expect(revoked.status).toBe(200);
    const denied = await mcpWithToken(gw.mcpUrl, first.access_token);
    expect(denied.status).toBe(401);
    expect(denied.challenge).toContain('error="invalid_token"');
    expect(gw.served).toContainEqual({ method: 'POST', path: '/revoke', status: 200 });

    // Only that access token: the grant lives, so the SDK refreshes and carries on without a browser.
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    expect(host.savedTokens).toHaveLength(2);
    expect(host.authorizations).toHaveLength(1);
    const second = host.tokens()!;
    expect(second.access_token).not.toBe(first.access_token);

    // Someone else's revocation of this token is a no-op (RFC 7009 §2.1: only the client's own).
    const other = await provider();
    const { client: otherClient } = await connectSdk(gw.mcpUrl, other);
    const foreign = await postForm(revokeUrl, {
      token: second.refresh_token!,
      client_id: other.clientInformation()!.client_id,
    });
    expect(foreign.status).toBe(200);
    expect((await mcpWithToken(gw.mcpUrl, second.access_token)).status).not.toBe(401);
    await otherClient.close();

    // The refresh token: the whole grant goes, its live access token included.
    expect((await postForm(revokeUrl, { token: second.refresh_token!, client_id: clientId })).status).toBe(
      200,
    );
    expect((await mcpWithToken(gw.mcpUrl, second.access_token)).status).toBe(401);
    await expect(client.callTool({ name: 'echo', arguments: { text: 'gone' } })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(host.authorizations).toHaveLength(2); // the SDK had to send the person back to the browser
    await client.close();
  });
});
