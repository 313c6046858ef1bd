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
 * Streams an upstream body to a node:http client as it arrives, with backpressure: each chunk is
 * written the moment it is read (an SSE event is never held back for a later one). When the
 * upstream's end was read together with its last chunk, the response is ended in the same write.
 *
 * Headers leave with the first chunk. When the upstream sent headers alone, they leave on their
 * own after `headersAloneMs` (0: at once) — the client of a GET stream needs them to know the
 * stream is open, while a POST's SSE answer (the SDK flushes its headers before the first event)
 * gains a packet and a wake-up on both sides by waiting a moment for that event, yet still shows
 * its headers long before any client-side headers timeout. The caller destroys the upstream
 * request when the client goes away.
 */
export function relay(upRes: IncomingMessage, res: ServerResponse, headersAloneMs: number): void {
  let wrote = false;
  let timer: NodeJS.Timeout | undefined;
  const flushHeadersAlone = () => {
    timer = undefined;
    if (!res.writableEnded && !res.destroyed) res.flushHeaders();
  };
  upRes.on('data', (chunk: Buffer) => {
    wrote = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!res.write(chunk)) {
      upRes.pause();
      res.once('drain', () => upRes.resume());
    }
    if (upRes.complete && upRes.readableLength === 0) res.end();
  });
  upRes.on('end', () => {
    if (timer) clearTimeout(timer);
    if (!res.writableEnded) res.end();
  });
  upRes.on('error', () => res.destroy());
  res.once('close', () => {
    if (timer) clearTimeout(timer);
  });
  // Scheduled after the 'data' listener's own first tick: whatever arrived with the headers has
  // flowed by then, so nothing written means headers alone so far.
  process.nextTick(() => {
    if (wrote || upRes.complete || res.writableEnded || res.destroyed) return;
    if (headersAloneMs === 0) flushHeadersAlone();
    else timer = setTimeout(flushHeadersAlone, headersAloneMs);
  });
}

/** Flat `name, value, …` headers as fetch header pairs. */
export function toHeaderPairs(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}
