import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';

const upstream = { type: 'dev', users: [{ username: 'demo' }] } as const;

describe('gateway configuration', () => {
  it('derives the issuer, resource and defaults', () => {
    const config = parseGatewayConfig({ issuer: 'https://gw.example/', upstream });
    expect(config.issuer).toBe('https://gw.example');
    expect(config.resource).toBe('https://gw.example/mcp');
    expect(config.basePath).toBe('');
    expect(config.tokens).toEqual({
      accessTokenTtl: 3600,
      refreshTokenTtl: 2592000,
      codeTtl: 600,
      refreshGraceSeconds: 30,
      accessTokenCacheSeconds: 5,
    });
    expect(config.defaultScopes).toEqual(['mcp']);
    expect(config.requiredScopes).toEqual(['mcp']);
    expect(config.store).toBe('memory:');
    expect(config.cimd.maxBytes).toBe(5120);
  });

  it('refuses a plain-http issuer unless dev mode on loopback', () => {
    expect(() => parseGatewayConfig({ issuer: 'http://gw.example', upstream })).toThrow(
      /issuer: must be https/,
    );
    expect(() => parseGatewayConfig({ issuer: 'http://gw.example', dev: true, upstream })).toThrow(/issuer/);
    expect(parseGatewayConfig({ issuer: 'http://127.0.0.1:8080', dev: true, upstream }).issuer).toBe(
      'http://127.0.0.1:8080',
    );
  });

  it('refuses codes living longer than 10 minutes and unknown keys', () => {
    expect(() =>
      parseGatewayConfig({ issuer: 'https://gw.example', upstream, tokens: { codeTtl: 3600 } }),
    ).toThrow(/codeTtl/);
    expect(() => parseGatewayConfig({ issuer: 'https://gw.example', upstream, tokenz: {} })).toThrow(
      /tokenz/,
    );
  });

  it('checks default and required scopes against the supported ones', () => {
    expect(() =>
      parseGatewayConfig({
        issuer: 'https://gw.example',
        upstream,
        scopes: { supported: ['mcp'], required: ['admin'] },
      }),
    ).toThrow(/admin not supported/);
  });

  it('accepts an OIDC upstream and both MCP upstream kinds', () => {
    const config = parseGatewayConfig({
      issuer: 'https://gw.example',
      upstream: { type: 'oidc', issuer: 'https://idp.example', clientId: 'gw', clientSecret: 's' },
      mcpUpstream: { http: 'http://127.0.0.1:3000/mcp', credential: 'upstream-token' },
    });
    expect(config.upstream).toMatchObject({
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      subjectClaim: 'sub',
    });
    const stdio = parseGatewayConfig({
      issuer: 'https://gw.example',
      upstream,
      mcpUpstream: { stdio: ['node', 'server.js'] },
    });
    expect(stdio.mcpUpstream).toEqual({ stdio: ['node', 'server.js'] });
  });
});
