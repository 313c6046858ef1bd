/**
 * Server-Sent Events (WHATWG HTML §9.2) over a fetch body, parsed by `eventsource-parser` rather
 * than by hand. The buffered event size is bounded: a server that never ends an event cannot make
 * us hold more than `maxEventBytes` (counted in UTF-16 code units, which bounds bytes from below).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { TransportError } from './errors.js';

export interface SseHandlers {
  onEvent(event: EventSourceMessage): void;
  /** `retry:` field: the server's reconnection delay in ms (HTML §9.2.6). */
  onRetry?(ms: number): void;
}

export interface SseOptions {
  maxEventBytes: number;
  signal?: AbortSignal | undefined;
}

/**
 * Reads the stream to its end, dispatching events in order. Resolves when the server ends the
 * stream; rejects with a `TransportError` (`message_too_large`, `network`) or the abort reason.
 */
export async function consumeSse(
  body: ReadableStream<Uint8Array>,
  handlers: SseHandlers,
  opts: SseOptions,
): Promise<void> {
  let failure: TransportError | undefined;
  const parser = createParser({
    onEvent: (event) => {
      if (!failure) handlers.onEvent(event);
    },
    onRetry: (ms) => handlers.onRetry?.(ms),
    onError: (error) => {
      // Unknown fields and bad `retry:` values are ignored, as HTML §9.2.6 says; only overflow is fatal.
      if (error.type === 'max-buffer-size-exceeded') {
        failure = new TransportError(
          'message_too_large',
          `an SSE event from the server exceeded the ${opts.maxEventBytes}-byte limit`,
        );
      }
    },
    maxBufferSize: opts.maxEventBytes,
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        throw new TransportError('network', 'the SSE stream was cut off', { cause });
      }
      if (chunk.done) break;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      if (failure) throw failure;
    }
    const tail = decoder.decode();
    if (tail) parser.feed(tail);
    if (failure) throw failure;
  } finally {
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
