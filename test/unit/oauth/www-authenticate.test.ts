// WWW-Authenticate (RFC 9110 §11.6.1) as the client reads it: RFC 6750 Bearer challenges with the
// RFC 9728 §5.1 resource_metadata parameter, possibly beside other schemes in one header.
import { describe, expect, it } from 'vitest';
import {
  bearerChallenge,
  formatChallenge,
  parseWwwAuthenticate,
} from '../../../src/oauth/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('splits several challenges in one header and lowercases schemes and parameter names', () => {
    expect(
      parseWwwAuthenticate(
        'DPoP algs="ES256 PS256", BEARER Scope="mcp:read mcp:admin", Error="insufficient_scope"',
      ),
    ).toEqual([
      { scheme: 'dpop', params: { algs: 'ES256 PS256' } },
      { scheme: 'bearer', params: { scope: 'mcp:read mcp:admin', error: 'insufficient_scope' } },
    ]);
  });

  it('unescapes quoted strings and keeps commas and escaped quotes inside them', () => {
    const [challenge] = parseWwwAuthenticate(
      'Bearer realm="a \\"quoted\\" realm, with a comma", error_description="back\\\\slash"',
    );
    expect(challenge?.params).toEqual({
      realm: 'a "quoted" realm, with a comma',
      error_description: 'back\\slash',
    });
  });

  it('accepts bare token values beside quoted ones', () => {
    expect(parseWwwAuthenticate('Bearer error=invalid_token, scope="mcp:read"')).toEqual([
      { scheme: 'bearer', params: { error: 'invalid_token', scope: 'mcp:read' } },
    ]);
  });

  it('reads a token68 credential, padded or not, and the challenge that follows it', () => {
    expect(parseWwwAuthenticate('Negotiate YWJjOmQ=, Bearer error="invalid_token"')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'YWJjOmQ=' },
      { scheme: 'bearer', params: { error: 'invalid_token' } },
    ]);
    expect(parseWwwAuthenticate('Basic dXNlcjpwYXNz')).toEqual([
      { scheme: 'basic', params: {}, token68: 'dXNlcjpwYXNz' },
    ]);
    expect(parseWwwAuthenticate('Negotiate YWI6Yw==')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'YWI6Yw==' },
    ]);
  });

  it('reads scope, error and resource_metadata of an MCP 401 and 403', () => {
    const header =
      'Bearer error="insufficient_scope", scope="mcp:read mcp:admin", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"';
    expect(bearerChallenge(header)).toEqual({
      error: 'insufficient_scope',
      scope: 'mcp:read mcp:admin',
      resource_metadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    });
  });

  it('finds the Bearer challenge among others, and reports none when there is none', () => {
    expect(bearerChallenge('Basic realm="x", Bearer scope="a"')).toEqual({ scope: 'a' });
    expect(bearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(bearerChallenge(null)).toBeUndefined();
  });

  it('keeps a bare scheme with no parameters as a challenge', () => {
    expect(parseWwwAuthenticate('Bearer, Basic')).toEqual([
      { scheme: 'bearer', params: {} },
      { scheme: 'basic', params: {} },
    ]);
  });

  it.each([
    ['an empty header', '', []],
    ['only separators', '  ,, ,', []],
    ['a quoted string where a scheme should be', '"Bearer"', []],
    ['an unterminated quoted string', 'Bearer realm="never closed', [{ scheme: 'bearer', params: {} }]],
    [
      'junk after a good parameter',
      'Bearer scope="mcp:read", @@@ {junk}',
      [{ scheme: 'bearer', params: { scope: 'mcp:read' } }],
    ],
  ])('survives garbage: %s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});

describe('formatChallenge', () => {
  it('quotes every value and escapes quotes and backslashes so the parser reads back the same', () => {
    const params = {
      error: 'insufficient_scope',
      scope: 'mcp:read mcp:admin',
      error_description: 'said "no", then \\ left',
      resource_metadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    };
    const header = formatChallenge('Bearer', params);
    expect(header).toBe(
      'Bearer error="insufficient_scope", scope="mcp:read mcp:admin", error_description="said \\"no\\", then \\\\ left", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
    );
    expect(parseWwwAuthenticate(header)).toEqual([{ scheme: 'bearer', params }]);
  });

  it('leaves out undefined values and writes a lone scheme when nothing is left', () => {
    expect(formatChallenge('Bearer', { error: undefined })).toBe('Bearer');
    expect(formatChallenge('Bearer', { realm: 'mcp', scope: undefined })).toBe('Bearer realm="mcp"');
  });
});
