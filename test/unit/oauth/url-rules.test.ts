// URL rules: https everywhere, cleartext only on loopback (OAuth 2.1 §1.5, RFC 8252 §8.3), only
// http(s) handed to a browser (MCP SBP, C39), and the canonical resource URI (MCP, RFC 8707).
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../../src/oauth/errors.js';
import {
  assertBrowserUrl,
  assertSecureUrl,
  canonicalResourceUrl,
  isLoopbackHost,
  wellKnownUrl,
} from '../../../src/oauth/url-rules.js';

describe('assertSecureUrl', () => {
  it('accepts any https URL', () => {
    expect(assertSecureUrl('https://as.example.com/token', 'token endpoint').href).toBe(
      'https://as.example.com/token',
    );
  });

  it.each([
    'http://127.0.0.1:8080/x',
    'http://127.42.0.7/x',
    'http://localhost:3000/x',
    'http://[::1]:9000/x',
    'http://mcp.localhost/x',
  ])('accepts http on the loopback host of %s', (url) => {
    expect(assertSecureUrl(url, 'endpoint').href).toBe(new URL(url).href);
  });

  it.each([
    'http://example.com/x',
    'http://localhost.evil.example/x',
    'http://127.0.0.1.nip.io/x',
    'http://10.0.0.1/x',
  ])('refuses cleartext http to the non-loopback host of %s, naming the origin', (url) => {
    expect(() => assertSecureUrl(url, 'token endpoint')).toThrow(
      `token endpoint must use https (http is allowed only on loopback): ${new URL(url).origin}`,
    );
  });

  it('lets a user opt in to cleartext with allowHttp, but never to another scheme', () => {
    expect(assertSecureUrl('http://example.com/x', 'endpoint', { allowHttp: true }).host).toBe('example.com');
    expect(() => assertSecureUrl('ftp://example.com/x', 'endpoint', { allowHttp: true })).toThrow(
      'endpoint must be an https URL, not ftp:',
    );
  });

  it('names what was not a URL at all', () => {
    const error = captureError(() => assertSecureUrl('not a url', 'resource_metadata URL'));
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({
      error: 'invalid_request',
      message: expect.stringContaining('resource_metadata URL is not a valid URL'),
    });
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['[::1]', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['app.localhost', true],
    ['128.0.0.1', false],
    ['localhost.example', false],
    ['0.0.0.0', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('assertBrowserUrl', () => {
  it.each([
    'javascript:alert(document.cookie)',
    'file:///etc/passwd',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox',
  ])('refuses to hand %s to a browser, naming its scheme', (url) => {
    expect(() => assertBrowserUrl(url)).toThrow(
      `refusing to open an authorization URL with scheme ${new URL(url).protocol}`,
    );
  });

  it('refuses a cleartext authorization URL off loopback, and one carrying credentials', () => {
    expect(() => assertBrowserUrl('http://idp.example.com/authorize')).toThrow(
      'refusing to open a cleartext authorization URL on idp.example.com',
    );
    expect(() => assertBrowserUrl('https://user:secret@idp.example.com/authorize')).toThrow(
      'refusing to open an authorization URL with credentials in it',
    );
  });

  it('accepts https anywhere and http on loopback', () => {
    expect(assertBrowserUrl('https://idp.example.com/authorize?x=1').href).toBe(
      'https://idp.example.com/authorize?x=1',
    );
    expect(assertBrowserUrl('http://127.0.0.1:4000/auth').port).toBe('4000');
  });
});

describe('canonicalResourceUrl', () => {
  it.each([
    ['HTTPS://MCP.Example.COM/mcp', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com:443/mcp', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp#section', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/', 'https://mcp.example.com'],
    ['https://mcp.example.com', 'https://mcp.example.com'],
    ['https://mcp.example.com/?tenant=a', 'https://mcp.example.com/?tenant=a'],
    ['https://mcp.example.com/Server/MCP', 'https://mcp.example.com/Server/MCP'],
    ['http://127.0.0.1:8080/mcp', 'http://127.0.0.1:8080/mcp'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalResourceUrl(input)).toBe(canonical);
  });
});

describe('wellKnownUrl', () => {
  it('inserts the well-known segment before the path, or at the root, or after the path', () => {
    const base = 'https://as.example.com/tenant/one/';
    expect(wellKnownUrl(base, 'oauth-authorization-server', 'insert').href).toBe(
      'https://as.example.com/.well-known/oauth-authorization-server/tenant/one',
    );
    expect(wellKnownUrl(base, 'oauth-authorization-server', 'root').href).toBe(
      'https://as.example.com/.well-known/oauth-authorization-server',
    );
    expect(wellKnownUrl(base, 'openid-configuration', 'append').href).toBe(
      'https://as.example.com/tenant/one/.well-known/openid-configuration',
    );
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
