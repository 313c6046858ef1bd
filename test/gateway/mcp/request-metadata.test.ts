import { describe, expect, it } from 'vitest';
import { parseJsonRpcBody } from '../../../src/gateway/mcp/body.js';
import { McpHttpError } from '../../../src/gateway/mcp/jsonrpc.js';
import { protocolEra, validateStatelessMetadata } from '../../../src/gateway/mcp/request-metadata.js';

const body = (m: unknown) => parseJsonRpcBody(Buffer.from(JSON.stringify(m)));
const call = (
  name: string,
  meta: Record<string, unknown> = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
) => body({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: {}, _meta: meta } });
const headers = (h: Record<string, string>) => (name: string) => h[name];

function rejection(fn: () => void): McpHttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof McpHttpError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('protocol era by MCP-Protocol-Version (T5, T6)', () => {
  it('maps versions to session, stateless or unknown', () => {
    expect(protocolEra(undefined)).toBe('session');
    expect(protocolEra('2025-11-25')).toBe('session');
    expect(protocolEra('2025-03-26')).toBe('session');
    expect(protocolEra('2026-07-28')).toBe('stateless');
    expect(protocolEra('1999-01-01')).toBe('unknown');
  });
});

describe('2026 request metadata checks (T7, T9)', () => {
  it('accepts matching Mcp-Method and Mcp-Name, base64-encoded or not', () => {
    validateStatelessMetadata(
      headers({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }),
      '2026-07-28',
      call('echo'),
    );
    validateStatelessMetadata(
      headers({ 'mcp-method': 'tools/call', 'mcp-name': '=?base64?w6ljaG8=?=' }),
      '2026-07-28',
      call('écho'),
    );
  });

  it('rejects a missing or mismatched Mcp-Method with 400 HeaderMismatch (-32020)', () => {
    const missing = rejection(() => validateStatelessMetadata(headers({}), '2026-07-28', call('echo')));
    expect([missing.status, missing.code, missing.id]).toEqual([400, -32020, 7]);
    const wrong = rejection(() =>
      validateStatelessMetadata(
        headers({ 'mcp-method': 'tools/list', 'mcp-name': 'echo' }),
        '2026-07-28',
        call('echo'),
      ),
    );
    expect(wrong.code).toBe(-32020);
  });

  it('rejects a missing or mismatched Mcp-Name on tools/call', () => {
    expect(
      rejection(() =>
        validateStatelessMetadata(headers({ 'mcp-method': 'tools/call' }), '2026-07-28', call('echo')),
      ).code,
    ).toBe(-32020);
    const e = rejection(() =>
      validateStatelessMetadata(
        headers({ 'mcp-method': 'tools/call', 'mcp-name': 'add' }),
        '2026-07-28',
        call('echo'),
      ),
    );
    expect(e.message).toMatch(/Mcp-Name/);
  });

  it('rejects a header version that disagrees with _meta', () => {
    const e = rejection(() =>
      validateStatelessMetadata(
        headers({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }),
        '2026-07-28',
        call('echo', { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' }),
      ),
    );
    expect(e.code).toBe(-32020);
  });

  it('rejects batches and responses in a 2026 POST', () => {
    const batch = body([{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
    expect(rejection(() => validateStatelessMetadata(headers({}), '2026-07-28', batch)).code).toBe(-32600);
    const response = body({ jsonrpc: '2.0', id: 1, result: {} });
    expect(rejection(() => validateStatelessMetadata(headers({}), '2026-07-28', response)).code).toBe(-32600);
  });
});

describe('POST bodies (R16)', () => {
  it('answers malformed JSON with 400 Parse error and non-JSON-RPC with 400 Invalid Request', () => {
    const parse = rejection(() => parseJsonRpcBody(Buffer.from('{"jsonrpc":')));
    expect([parse.status, parse.code]).toEqual([400, -32700]);
    for (const bad of [
      '[]',
      '"x"',
      '{"jsonrpc":"1.0","method":"a"}',
      '{"jsonrpc":"2.0","id":null,"method":"a"}',
      '{"jsonrpc":"2.0","method":"a","params":3}',
    ]) {
      const e = rejection(() => parseJsonRpcBody(Buffer.from(bad)));
      expect([e.status, e.code]).toEqual([400, -32600]);
    }
  });

  it("keeps a single request's id for error answers", () => {
    expect(body({ jsonrpc: '2.0', id: 'x', method: 'ping' }).replyId).toBe('x');
    expect(body({ jsonrpc: '2.0', method: 'notifications/initialized' }).replyId).toBeNull();
  });
});
