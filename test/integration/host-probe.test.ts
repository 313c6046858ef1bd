// probe() against real servers on 127.0.0.1: the oidc-provider-protected SDK MCP server, the same
// server unprotected, an API-key style server answering 401 Basic, and a port nobody listens on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { probe } from '../../src/client/probe.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import { startProtectedServer } from './host-setup.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

describe('probe', () => {
  it('finds OAuth on the protected server: resource metadata, AS metadata and scopes, without logging in', async () => {
    const { as, mcp } = await startProtectedServer();
    const result = await probe(mcp.url);
    expect(result).toMatchObject({
      kind: 'oauth',
      status: 401,
      resourceMetadataUrl: mcp.resourceMetadataUrl,
      protectedResource: { resource: mcp.url, authorization_servers: [as.issuer] },
      authorizationServers: [as.issuer],
      authorizationServerMetadata: {
        issuer: as.issuer,
        code_challenge_methods_supported: expect.arrayContaining(['S256']),
      },
      scopes: ['mcp:read'],
      scopeSource: 'challenge',
    });
    expect(result).not.toHaveProperty('problem');
    // No login and no registration reached the AS; only metadata was read.
    expect(as.requests.entries.every((r) => r.method === 'GET' && r.path.startsWith('/.well-known/'))).toBe(
      true,
    );
    expect(as.registeredClients().size).toBe(0);
  });

  it('finds an open server, and ends the session its initialize opened', async () => {
    const mcp = await startMcpServer({ requireAuth: false });
    onTestFinished(() => mcp.stop());
    const result = await probe(mcp.url);
    expect(result).toMatchObject({
      kind: 'open',
      status: 200,
      protocolVersion: '2025-11-25',
      serverInfo: { name: 'portcullis-fixture' },
    });
    expect(mcp.requests.map((r) => r.method)).toEqual(['POST', 'DELETE']);
    expect(mcp.sessionIds).toEqual([]);
  });

  it('tells a static-credentials server (401 Basic) apart from OAuth', async () => {
    const url = await listen(
      createServer((_req, res) => {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="api"' }).end();
      }),
    );
    expect(await probe(url)).toEqual({
      kind: 'static-credentials',
      status: 401,
      scheme: 'basic',
      hint: expect.stringMatching(/asks for basic credentials.*static header/),
    });
  });

  it('reports a closed port as unreachable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await probe(`http://127.0.0.1:${port}/mcp`)).toEqual({
      kind: 'unreachable',
      code: 'refused',
      reason: `nothing listens at 127.0.0.1:${port} (connection refused)`,
    });
  });

  it('reports a server that never answers as unreachable within the timeout', async () => {
    const url = await listen(createServer(() => {}));
    expect(await probe(url, { timeoutMs: 200 })).toMatchObject({ kind: 'unreachable', code: 'timeout' });
  });
});
