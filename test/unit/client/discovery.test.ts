// Discovery order (MCP §Authorization Server Discovery): C3 for RFC 9728 protected resource
// metadata, C7 for RFC 8414 / OIDC metadata, and the RFC 9728 §3.3 resource check (C4).
// A fake fetch answers from a table and records every URL asked, in order.
import { describe, expect, it } from 'vitest';
import {
  authorizationServerMetadataUrls,
  checkResource,
  discoverAuthorizationServer,
  discoverProtectedResource,
} from '../../../src/client/discovery.js';
import { ClientError } from '../../../src/client/errors.js';

function tableFetch(documents: Record<string, unknown>) {
  const asked: string[] = [];
  const fetch: typeof globalThis.fetch = async (input) => {
    const url = String(input);
    asked.push(url);
    return url in documents ? Response.json(documents[url]) : new Response('not found', { status: 404 });
  };
  return { asked, ctx: { fetch, allowHttp: false } };
}

const server = 'https://mcp.example.com/tenant/mcp';
const issuer = 'https://as.example.com';
const prm = { resource: server, authorization_servers: [issuer] };
const asMetadata = {
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  code_challenge_methods_supported: ['S256'],
};

describe('protected resource metadata discovery (C3)', () => {
  it("uses the challenge's resource_metadata URL, and only that one", async () => {
    const rm = 'https://mcp.example.com/custom/prm.json';
    const { asked, ctx } = tableFetch({ [rm]: prm });
    await expect(discoverProtectedResource(server, rm, ctx)).resolves.toEqual({
      protectedResource: prm,
      resourceMetadataUrl: rm,
      issuer,
    });
    expect(asked).toEqual([rm]);
  });

  it('fails, naming the URL, when the advertised resource_metadata is missing', async () => {
    const rm = 'https://mcp.example.com/custom/prm.json';
    const { asked, ctx } = tableFetch({});
    await expect(discoverProtectedResource(server, rm, ctx)).rejects.toMatchObject({
      code: 'discovery_failed',
      message: `no protected resource metadata at ${rm}`,
    });
    expect(asked).toEqual([rm]);
  });

  it('tries the path-inserted well-known URL first, then the root one', async () => {
    const root = 'https://mcp.example.com/.well-known/oauth-protected-resource';
    const { asked, ctx } = tableFetch({ [root]: prm });
    const found = await discoverProtectedResource(server, undefined, ctx);
    expect(asked).toEqual(['https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp', root]);
    expect(found.resourceMetadataUrl).toBe(root);
  });

  it('asks only once for a server at the origin root', async () => {
    const { asked, ctx } = tableFetch({});
    await discoverProtectedResource('https://mcp.example.com', undefined, ctx);
    expect(asked).toEqual(['https://mcp.example.com/.well-known/oauth-protected-resource']);
  });

  it('with no metadata anywhere, falls back to the 2025-03-26 rule: the origin is the AS', async () => {
    const { ctx } = tableFetch({});
    await expect(discoverProtectedResource(server, undefined, ctx)).resolves.toEqual({
      issuer: 'https://mcp.example.com',
    });
  });

  it('refuses metadata that lists no authorization server', async () => {
    const rm = 'https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp';
    const { ctx } = tableFetch({ [rm]: { resource: server } });
    await expect(discoverProtectedResource(server, undefined, ctx)).rejects.toMatchObject({
      code: 'discovery_failed',
      message: `protected resource metadata at ${rm} lists no authorization server`,
    });
  });
});

describe('authorization server metadata discovery (C7)', () => {
  it('for an issuer with a path: OAuth path-inserted, OIDC path-inserted, OIDC appended', () => {
    expect(authorizationServerMetadataUrls('https://as.example.com/tenant1').map(String)).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server/tenant1',
      'https://as.example.com/.well-known/openid-configuration/tenant1',
      'https://as.example.com/tenant1/.well-known/openid-configuration',
    ]);
  });

  it('for an issuer without a path: OAuth, then OIDC, at the root', () => {
    expect(authorizationServerMetadataUrls('https://as.example.com').map(String)).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server',
      'https://as.example.com/.well-known/openid-configuration',
    ]);
  });

  it('walks the list in that order until a document is found', async () => {
    const pathIssuer = 'https://as.example.com/tenant1';
    const appended = 'https://as.example.com/tenant1/.well-known/openid-configuration';
    const { asked, ctx } = tableFetch({ [appended]: { ...asMetadata, issuer: pathIssuer } });
    const metadata = await discoverAuthorizationServer(pathIssuer, ctx, { legacy: false });
    expect(metadata.issuer).toBe(pathIssuer);
    expect(asked).toEqual(authorizationServerMetadataUrls(pathIssuer).map(String));
  });

  it('stops at the first document found', async () => {
    const oauth = 'https://as.example.com/.well-known/oauth-authorization-server';
    const { asked, ctx } = tableFetch({ [oauth]: asMetadata });
    await discoverAuthorizationServer(issuer, ctx, { legacy: false });
    expect(asked).toEqual([oauth]);
  });

  it('without any document: default endpoints for a 2025-03-26 server, an error otherwise', async () => {
    const { ctx } = tableFetch({});
    await expect(discoverAuthorizationServer(issuer, ctx, { legacy: true })).resolves.toMatchObject({
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      registration_endpoint: `${issuer}/register`,
    });
    await expect(discoverAuthorizationServer(issuer, ctx, { legacy: false })).rejects.toMatchObject({
      code: 'discovery_failed',
      message: `no authorization server metadata found for ${issuer}`,
    });
  });
});

describe('checkResource (RFC 9728 §3.3)', () => {
  it.each([
    ['the identical URL', server],
    ['the same origin as a parent path', 'https://mcp.example.com/tenant'],
    ['the bare origin', 'https://mcp.example.com'],
  ])('accepts %s', (_name, resource) => {
    expect(() => checkResource(server, resource)).not.toThrow();
  });

  it.each([
    ['another host', 'https://evil.example.com/tenant/mcp'],
    ['another scheme', 'http://mcp.example.com/tenant/mcp'],
    ['another port', 'https://mcp.example.com:8443/tenant/mcp'],
    ['a sibling path sharing a prefix', 'https://mcp.example.com/tenant/mcp2'],
    ['a child path', 'https://mcp.example.com/tenant/mcp/deeper'],
  ])('refuses %s, naming both', (_name, resource) => {
    const error = (() => {
      try {
        checkResource(server, resource);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({
      code: 'discovery_failed',
      message: expect.stringContaining(`names resource ${resource}, which is not ${server}`),
    });
  });
});
