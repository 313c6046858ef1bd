/**
 * Moving an upstream node:http response into a fetch `Response` without buffering: each chunk is
 * handed on as it arrives (an SSE event is flushed the moment the upstream writes it), with
 * backpressure both ways and cancellation reaching the upstream socket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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

/** A status a fetch `Response` may carry with a body. */
export function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

/**
 * Streams an upstream body to a node:http client as it arrives, with backpressure. Chunks that
 * arrive together leave together: the socket is corked for the rest of the event-loop turn in
 * which a chunk arrived, so an upstream's last event and its end go out in one write instead of
 * two — no chunk waits for a later one. Headers leave with the first chunk, or on their own by
 * the end of the turn when the upstream sent headers only (an SSE stream with no event yet).
 */
export function relay(upRes: IncomingMessage, res: ServerResponse): void {
  let wrote = false;
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  upRes.on('data', (chunk: Buffer) => {
    wrote = true;
    if (!corked && process.env['CORK'] === '1') {
      corked = true;
      res.cork();
      setImmediate(uncork);
    }
    if (!res.write(chunk)) {
      upRes.pause();
      res.once('drain', () => upRes.resume());
    }
  });
  upRes.on('end', () => res.end());
  upRes.on('error', () => res.destroy());
  res.on('close', () => {
    if (!upRes.complete) upRes.destroy();
  });
  setImmediate(() => {
    if (!wrote && !res.writableEnded && !res.destroyed) res.flushHeaders();
  });
}

/** Flat `name, value, …` headers as fetch header pairs. */
export function toHeaderPairs(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}
