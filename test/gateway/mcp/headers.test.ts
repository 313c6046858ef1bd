import { describe, expect, it } from 'vitest';
import {
  decodeHeaderValue,
  encodeHeaderValue,
  forwardableResponseHeaders,
  identityHeaders,
  requestHeaderFilter,
} from '../../../src/gateway/mcp/headers.js';

describe('request headers toward the MCP server', () => {
  const forward = requestHeaderFilter();

  it('forwards the Streamable HTTP headers, 2026 request metadata and every Mcp-Param-*', () => {
    for (const name of [
      'accept',
      'content-type',
      'mcp-session-id',
      'mcp-protocol-version',
      'last-event-id',
    ]) {
      expect(forward(name)).toBe(true);
    }
    expect(forward('mcp-method')).toBe(true);
    expect(forward('mcp-name')).toBe(true);
    expect(forward('mcp-param-region')).toBe(true);
    expect(forward('mcp-param-anything-unknown')).toBe(true);
  });

  it("never forwards the client's Authorization, cookies, Origin or X-Portcullis-* (R14)", () => {
    for (const name of [
      'authorization',
      'cookie',
      'origin',
      'x-portcullis-user',
      'proxy-authorization',
      'host',
    ]) {
      expect(forward(name)).toBe(false);
    }
  });

  it('refuses a configuration that would forward the client credential', () => {
    expect(() => requestHeaderFilter(['Authorization'])).toThrow(/never forwards/);
    expect(() => requestHeaderFilter(['X-Portcullis-User'])).toThrow(/never forwards/);
    expect(requestHeaderFilter(['X-Request-Id'])('x-request-id')).toBe(true);
  });
});

describe('response headers back to the client', () => {
  it('drops hop-by-hop headers and those named in Connection (RFC 9110 §7.6.1)', () => {
    const raw = ['Connection', 'keep-alive, X-Hop', 'Transfer-Encoding', 'chunked', 'X-Hop', '1'];
    raw.push('Content-Type', 'text/event-stream', 'Mcp-Session-Id', 's1', 'Vary', 'a', 'Vary', 'b');
    expect(forwardableResponseHeaders(raw)).toEqual([
      'content-type',
      'text/event-stream',
      'mcp-session-id',
      's1',
      'vary',
      'a',
      'vary',
      'b',
    ]);
  });

  it("drops the upstream's challenge, cookies and CORS policy: the gateway owns those", () => {
    const raw = [
      'WWW-Authenticate',
      'Bearer',
      'Set-Cookie',
      'a=1',
      'Access-Control-Allow-Origin',
      '*',
      'X-Kept',
      '1',
    ];
    expect(forwardableResponseHeaders(raw)).toEqual(['x-kept', '1']);
  });
});

describe('header value encoding (2026 streamable-http §Value Encoding)', () => {
  it('keeps header-safe values and base64-wraps the rest, including sentinel look-alikes', () => {
    expect(encodeHeaderValue('alice')).toBe('alice');
    expect(encodeHeaderValue('Hello, 世界')).toBe('=?base64?SGVsbG8sIOS4lueVjA==?=');
    expect(encodeHeaderValue(' padded ')).toBe('=?base64?IHBhZGRlZCA=?=');
    expect(encodeHeaderValue('line1\nline2')).toBe('=?base64?bGluZTEKbGluZTI=?=');
    expect(encodeHeaderValue('=?base64?literal?=')).toBe('=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=');
  });

  it('round-trips through decodeHeaderValue', () => {
    for (const v of ['alice', 'Ünïcode', ' x ', 'a\r\nInjected: 1', '=?base64?x?=']) {
      expect(decodeHeaderValue(encodeHeaderValue(v))).toBe(v);
    }
    expect(decodeHeaderValue('=?base64?***?=')).toBeUndefined();
  });

  it('builds identity headers that cannot smuggle a header line', () => {
    const h = identityHeaders({ userId: 'eve\r\nX-Admin: 1', clientId: 'c', scopes: ['a', 'b'] });
    expect(h[0]).toBe('x-portcullis-user');
    expect(h[1]).toMatch(/^=\?base64\?/);
    expect(h.slice(2)).toEqual(['x-portcullis-client', 'c', 'x-portcullis-scopes', 'a b']);
  });
});
