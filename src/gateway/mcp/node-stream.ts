/**
 * Moving an upstream node:http response into a fetch `Response` without buffering: each chunk is
 * handed on as it arrives (an SSE event is flushed the moment the upstream writes it), with
 * backpressure both ways and cancellation reaching the upstream socket.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** 64 KiB queued toward a slow reader before the upstream is paused. */
const HIGH_WATER_BYTES = 64 * 1024;

export function toWebStream(src: IncomingMessage): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        src.on('data', (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) src.pause();
        });
        src.on('end', () => {
          finished = true;
          controller.close();
        });
        const fail = (err: Error) => {
          if (finished) return;
          finished = true;
          controller.error(err);
        };
        src.on('error', fail);
        // A socket closed mid-body surfaces as 'close' without 'end'.
        src.on('close', () => fail(new Error('the MCP server closed the stream')));
      },
      pull() {
        src.resume();
      },
      cancel() {
        finished = true;
        src.destroy();
      },
    },
    { highWaterMark: HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
}

/** node's parsed headers as fetch header pairs (repeated fields kept as repeats). */
export function toHeaderPairs(headers: IncomingHttpHeaders | Record<string, string | string[]>): [string, string][] {
  const pairs: [string, string][] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else pairs.push([name, value]);
  }
  return pairs;
}

/** A status a fetch `Response` may carry with a body. */
export function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}
