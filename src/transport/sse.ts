/**
 * Server-Sent Events (WHATWG HTML §9.2) over a fetch body, parsed by `eventsource-parser` rather
 * than by hand. The buffered event size is bounded: a server that never ends an event cannot make
 * us hold more than `maxEventBytes` (counted in UTF-16 code units, which bounds bytes from below).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { TransportError } from './errors.js';
import { type JsonRpcMessage, parseJsonRpcText } from './jsonrpc.js';

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
      if (failure) return;
      // maxBufferSize bounds what is buffered across chunks; an event that arrived whole is checked here.
      if (event.data.length > opts.maxEventBytes) failure = tooLarge(opts.maxEventBytes);
      else handlers.onEvent(event);
    },
    onRetry: (ms) => handlers.onRetry?.(ms),
    onError: (error) => {
      // Unknown fields and bad `retry:` values are ignored, as HTML §9.2.6 says; only overflow is fatal.
      if (error.type === 'max-buffer-size-exceeded') {
        failure = tooLarge(opts.maxEventBytes);
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

/** How one stream of MCP messages ended. */
export interface MessageStreamEnd {
  lastEventId: string | undefined;
  retryMs: number | undefined;
  /** Events seen, priming events included: a stream that produced any made progress. */
  events: number;
  /** The last malformed message's problem, if any (the stream goes on after one). */
  malformed: string | undefined;
  /** Why it ended, when not by the server closing it cleanly. */
  error: unknown;
}

/**
 * Streamable HTTP §Receiving messages: reads JSON-RPC messages from `message` events (the default
 * type) to the end of the stream. Priming events and keep-alives carry no data and are skipped;
 * a malformed message is recorded and skipped. Never throws.
 */
export async function readMessageStream(
  body: ReadableStream<Uint8Array>,
  opts: SseOptions & {
    onMessage(message: JsonRpcMessage, raw: string | undefined): void;
    onRetry?(ms: number): void;
  },
): Promise<MessageStreamEnd> {
  const end: MessageStreamEnd = {
    lastEventId: undefined,
    retryMs: undefined,
    events: 0,
    malformed: undefined,
    error: undefined,
  };
  try {
    await consumeSse(
      body,
      {
        onEvent: (ev) => {
          end.events++;
          if (ev.id !== undefined) end.lastEventId = ev.id;
          if (!ev.data || (ev.event !== undefined && ev.event !== 'message')) return;
          const outcome = parseJsonRpcText(ev.data);
          if (!outcome.ok) {
            end.malformed = outcome.error.message;
            return;
          }
          // Multi-line data is joined with \n; such text cannot be forwarded as one stdio line.
          opts.onMessage(outcome.message, ev.data.includes('\n') ? undefined : ev.data);
        },
        onRetry: (ms) => {
          end.retryMs = ms;
          opts.onRetry?.(ms);
        },
      },
      opts,
    );
  } catch (error) {
    end.error = error;
  }
  return end;
}

function tooLarge(max: number): TransportError {
  return new TransportError(
    'message_too_large',
    `an SSE event from the server exceeded the ${max}-byte limit`,
  );
}
