import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JsonRpcFailure, JsonRpcMessage } from '../../src/transport/jsonrpc.js';
import { ndjsonWriter, readNdjson } from '../../src/transport/stdio-framing.js';

function collect(opts: { maxLineBytes?: number } = {}) {
  const input = new PassThrough();
  const messages: { message: JsonRpcMessage; raw: string }[] = [];
  const invalid: JsonRpcFailure[] = [];
  const closed = new Promise<Error | undefined>((resolve) => {
    readNdjson(
      input,
      {
        onMessage: (message, raw) => messages.push({ message, raw }),
        onInvalid: (r) => invalid.push(r),
        onClose: resolve,
      },
      opts,
    );
  });
  return { input, messages, invalid, closed };
}

describe('newline-delimited JSON-RPC reader', () => {
  it('reassembles messages split across chunks and splits several in one chunk', async () => {
    const { input, messages, closed } = collect();
    input.write('{"jsonrpc":"2.0","id":1,"met');
    input.write('hod":"ping"}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n{"jsonrpc":"2.0",');
    input.end('"id":"a","result":{}}\n');
    await closed;
    expect(messages.map((m) => m.message)).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'a', result: {} },
    ]);
    expect(messages[0]?.raw).toBe('{"jsonrpc":"2.0","id":1,"method":"ping"}');
  });

  it('accepts CRLF line endings and skips blank lines', async () => {
    const { input, messages, invalid, closed } = collect();
    input.end(
      '{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n\r\n\n{"jsonrpc":"2.0","id":2,"method":"ping"}\r\n',
    );
    await closed;
    expect(messages).toHaveLength(2);
    expect(invalid).toEqual([]);
  });

  it('answers a line that is not JSON with a -32700 parse error whose id is null, and keeps reading', async () => {
    const { input, messages, invalid, closed } = collect();
    input.end('this is not json\n{"jsonrpc":"2.0","id":7,"method":"ping"}\n');
    await closed;
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect(messages.map((m) => m.message)).toEqual([{ jsonrpc: '2.0', id: 7, method: 'ping' }]);
  });

  it('answers JSON that is not a JSON-RPC message with -32600, keeping the id it could recover', async () => {
    const { input, invalid, closed } = collect();
    input.end(
      '{"jsonrpc":"1.0","id":3,"method":"ping"}\n{"id":4}\n[{"jsonrpc":"2.0","id":5,"method":"ping"}]\n42\n',
    );
    await closed;
    expect(invalid.map((r) => [r.id, r.error.code])).toEqual([
      [3, -32600],
      [4, -32600],
      [null, -32600],
      [null, -32600],
    ]);
  });

  it('discards a line over the size limit without buffering it, reports it, and reads on', async () => {
    const { input, messages, invalid, closed } = collect({ maxLineBytes: 64 });
    input.write(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"${'a'.repeat(40)}`);
    input.write('a'.repeat(100));
    input.write('"}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    input.end();
    await closed;
    expect(invalid).toHaveLength(1);
    expect(invalid[0]?.error.message).toMatch(/64-byte limit/);
    expect(messages.map((m) => m.message)).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
  });

  it('treats a final line without a newline as a message', async () => {
    const { input, messages, closed } = collect();
    input.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    await closed;
    expect(messages).toHaveLength(1);
  });
});

describe('newline-delimited JSON-RPC writer', () => {
  it('writes one line per message, reusing raw text and re-serialising text with line breaks', () => {
    const out = new PassThrough();
    const writer = ndjsonWriter(out);
    const m = { jsonrpc: '2.0' as const, id: 1, result: { a: 1 } };
    writer.write(m, '{"jsonrpc":"2.0","id":1,"result":{"a":1}}');
    writer.write(m, '{\n  "jsonrpc": "2.0", "id": 1, "result": {"a": 1}\n}');
    writer.write(m);
    const lines = String(out.read()).split('\n');
    expect(lines).toEqual([JSON.stringify(m), JSON.stringify(m), JSON.stringify(m), '']);
  });

  it('reports a broken output once and stops writing', () => {
    const out = new PassThrough();
    const errors: Error[] = [];
    const writer = ndjsonWriter(out, (e) => errors.push(e));
    out.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(writer.broken).toBe(true);
    expect(writer.write({ jsonrpc: '2.0', method: 'x' })).toBe(false);
    expect(errors).toHaveLength(1);
  });
});
