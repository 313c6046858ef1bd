// MCP §Scope Selection Strategy: C23 (challenge, then PRM, then none), C26 (step-up asks for the
// union), C36 (offline_access only where the AS lists it).
import { describe, expect, it } from 'vitest';
import { selectScopes, splitScope } from '../../../src/client/scopes.js';

const as = { issuer: 'https://as.example.com' };
const asWithOffline = { issuer: 'https://as.example.com', scopes_supported: ['mcp:read', 'offline_access'] };
const prm = { resource: 'https://mcp.example.com/mcp', scopes_supported: ['mcp:read', 'mcp:write'] };

describe('selectScopes', () => {
  it("C23: takes the challenge's scope over PRM scopes_supported", () => {
    expect(
      selectScopes({
        challenged: 'mcp:admin',
        stepUp: false,
        protectedResource: prm,
        authorizationServer: as,
        wantRefreshToken: false,
      }),
    ).toEqual(['mcp:admin']);
  });

  it('C23: falls back to PRM scopes_supported when the challenge names none', () => {
    expect(
      selectScopes({
        stepUp: false,
        protectedResource: prm,
        authorizationServer: as,
        wantRefreshToken: false,
      }),
    ).toEqual(['mcp:read', 'mcp:write']);
  });

  it('C23: asks for no scope at all when neither names one', () => {
    expect(
      selectScopes({ stepUp: false, authorizationServer: asWithOffline, wantRefreshToken: true }),
    ).toEqual([]);
  });

  it('lets a configured scope override both', () => {
    expect(
      selectScopes({
        configured: 'custom:one  custom:two',
        challenged: 'mcp:admin',
        stepUp: false,
        protectedResource: prm,
        authorizationServer: as,
        wantRefreshToken: false,
      }),
    ).toEqual(['custom:one', 'custom:two']);
  });

  it('C26: a step-up asks for the union of what was requested and what is challenged, once each', () => {
    expect(
      selectScopes({
        challenged: 'mcp:read mcp:admin',
        previous: ['mcp:read', 'offline_access'],
        stepUp: true,
        protectedResource: prm,
        authorizationServer: as,
        wantRefreshToken: false,
      }),
    ).toEqual(['mcp:read', 'offline_access', 'mcp:admin']);
  });

  it('C26: a step-up without earlier scopes asks for the challenged ones', () => {
    expect(
      selectScopes({
        challenged: 'mcp:admin',
        stepUp: true,
        authorizationServer: as,
        wantRefreshToken: false,
      }),
    ).toEqual(['mcp:admin']);
  });

  it('C36: adds offline_access for a refresh token only when the AS lists it', () => {
    const base = { challenged: 'mcp:read', stepUp: false, wantRefreshToken: true } as const;
    expect(selectScopes({ ...base, authorizationServer: asWithOffline })).toEqual([
      'mcp:read',
      'offline_access',
    ]);
    expect(selectScopes({ ...base, authorizationServer: as })).toEqual(['mcp:read']);
  });

  it('C36: never adds offline_access to a grant without refresh tokens, nor to an empty scope', () => {
    expect(
      selectScopes({
        challenged: 'mcp:read',
        stepUp: false,
        authorizationServer: asWithOffline,
        wantRefreshToken: false,
      }),
    ).toEqual(['mcp:read']);
    expect(
      selectScopes({ stepUp: false, authorizationServer: asWithOffline, wantRefreshToken: true }),
    ).toEqual([]);
  });
});

describe('splitScope', () => {
  it('splits on any whitespace and drops empties', () => {
    expect(splitScope('  a\tb\n c  ')).toEqual(['a', 'b', 'c']);
    expect(splitScope(undefined)).toEqual([]);
    expect(splitScope('')).toEqual([]);
  });
});
