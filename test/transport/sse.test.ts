import { describe, expect, it } from 'vitest';
import { TransportError } from '../../src/transport/errors.js';
import { consumeSse, readMessageStream } from '../../src/transport/sse.js';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
}

describe('SSE parsing', () => {
  it('dispatches events split across chunks, in order, with ids and retry', async () => {
    const events: unknown[] = [];
    const retries: number[] = [];
    await consumeSse(
      streamOf(
        'id: 1\nretry: 500\nda',
        'ta: {"a":1}\n\nevent: message\nid: 2\ndata: {"b"',
        ':2}\n\n: keep-alive\n\n',
      ),
      { onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) },
      { maxEventBytes: 1024 },
    );
    expect(events).toEqual([
      { id: '1', event: undefined, data: '{"a":1}' },
      { id: '2', event: 'message', data: '{"b":2}' },
    ]);
    expect(retries).toEqual([500]);
  });

  it('ignores unknown fields and a bad retry value, as HTML §9.2.6 says', async () => {
    const events: unknown[] = [];
    await consumeSse(
      streamOf('bogus: x\nretry: soon\ndata: ok\n\n'),
      { onEvent: (e) => events.push(e) },
      {
        maxEventBytes: 1024,
      },
    );
    expect(events).toEqual([{ id: undefined, event: undefined, data: 'ok' }]);
  });

  it('fails with message_too_large when one event outgrows the limit, without waiting for its end', async () => {
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(`data: ${'x'.repeat(256)}\n`));
      },
    });
    const error = await consumeSse(endless, { onEvent: () => {} }, { maxEventBytes: 4096 }).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error.code).toBe('message_too_large');
  });
});

describe('MCP message streams', () => {
  it('delivers JSON-RPC messages, skips priming events and foreign event types, and records a malformed frame', async () => {
    const delivered: unknown[] = [];
    const end = await readMessageStream(
      streamOf(
        'id: p1\nretry: 250\ndata:\n\n',
        'event: endpoint\ndata: /elsewhere\n\n',
        'data: {not json\n\n',
        'id: e2\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n',
      ),
      { maxEventBytes: 1024, onMessage: (m, raw) => delivered.push([m, raw]) },
    );
    expect(delivered).toEqual([
      [
        { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } },
        '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}',
      ],
    ]);
    expect(end).toMatchObject({ lastEventId: 'e2', retryMs: 250, events: 4, error: undefined });
    expect(end.malformed).toMatch(/Parse error/);
  });

  it('ends with the error when the body is cut off', async () => {
    let pulls = 0;
    const cut = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0)
          controller.enqueue(new TextEncoder().encode('id: 1\ndata: {"jsonrpc":"2.0","method":"a"}\n\n'));
        else controller.error(new Error('socket hang up'));
      },
    });
    const end = await readMessageStream(cut, { maxEventBytes: 1024, onMessage: () => {} });
    expect(end.lastEventId).toBe('1');
    expect(end.error).toBeInstanceOf(TransportError);
    expect((end.error as TransportError).code).toBe('network');
  });
});
