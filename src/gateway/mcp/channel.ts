/**
 * One client-facing HTTP answer that the stdio upstream fills in over time: a JSON body, an empty
 * status, or an SSE stream (MCP transports §Sending Messages). Two implementations: a fetch
 * `Response` being built, and a node:http `ServerResponse`.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../logger.js';
import type { HeaderRecord } from './headers.js';
import type { McpHttpError } from './jsonrpc.js';
import { writeNodeJson } from './render.js';

export interface SseStream {
  /** Writes one JSON-RPC message as an SSE `message` event, flushed at once. */
  send(message: unknown): void;
  end(): void;
  readonly closed: boolean;
}

export interface ResponseChannel {
  json(status: number, body: unknown, headers?: HeaderRecord): void;
  empty(status: number, headers?: HeaderRecord): void;
  error(err: McpHttpError): void;
  /** Starts a 200 `text/event-stream` response. */
  stream(headers?: HeaderRecord): SseStream;
  /** Runs once if the client goes away before the answer is complete. */
  onClose(listener: () => void): void;
}

/** A reader this far behind on one stream is dropped rather than buffered without end. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

const SSE_HEADERS: HeaderRecord = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // 2026 streamable-http §Receiving Messages: keep reverse proxies from buffering events.
  'x-accel-buffering': 'no',
};

function sseEvent(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** A channel that resolves `response` with the first thing written to it. */
export function webChannel(
  signal: AbortSignal,
  logger: Logger,
): { channel: ResponseChannel; response: Promise<Response> } {
  let resolve!: (r: Response) => void;
  const response = new Promise<Response>((r) => {
    resolve = r;
  });
  const listeners: (() => void)[] = [];
  let complete = false;
  const gone = () => {
    if (complete) return;
    complete = true;
    for (const l of listeners.splice(0)) l();
  };
  signal.addEventListener('abort', gone, { once: true });
  const finish = () => {
    complete = true;
    signal.removeEventListener('abort', gone);
  };
  const encoder = new TextEncoder();
  return {
    response,
    channel: {
      json(status, body, headers = {}) {
        finish();
        resolve(Response.json(body, { status, headers }));
      },
      empty(status, headers = {}) {
        finish();
        resolve(new Response(null, { status, headers }));
      },
      error(err) {
        this.json(err.status, err.body(), err.headers);
      },
      stream(headers = {}) {
        let controller!: ReadableStreamDefaultController<Uint8Array>;
        let closed = false;
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            controller = c;
          },
          cancel() {
            closed = true;
            gone();
          },
        });
        resolve(new Response(body, { status: 200, headers: { ...headers, ...SSE_HEADERS } }));
        return {
          get closed() {
            return closed;
          },
          send(message) {
            if (closed) return;
            controller.enqueue(encoder.encode(sseEvent(message)));
            if ((controller.desiredSize ?? 0) < -MAX_QUEUED_BYTES) {
              logger.warn({}, 'MCP client is not reading its SSE stream; closing it');
              closed = true;
              controller.error(new Error('SSE reader too slow'));
              gone();
            }
          },
          end() {
            if (closed) return;
            closed = true;
            finish();
            controller.close();
          },
        };
      },
      onClose(listener) {
        listeners.push(listener);
      },
    },
  };
}

export function nodeChannel(res: ServerResponse, logger: Logger): ResponseChannel {
  const listeners: (() => void)[] = [];
  res.on('close', () => {
    if (res.writableFinished) return;
    for (const l of listeners.splice(0)) l();
  });
  return {
    json(status, body, headers = {}) {
      writeNodeJson(res, status, body, headers);
    },
    empty(status, headers = {}) {
      res.writeHead(status, headers);
      res.end();
    },
    error(err) {
      writeNodeJson(res, err.status, err.body(), err.headers);
    },
    stream(headers = {}) {
      res.writeHead(200, { ...headers, ...SSE_HEADERS });
      res.flushHeaders();
      return {
        get closed() {
          return res.destroyed || res.writableEnded;
        },
        send(message) {
          if (res.destroyed || res.writableEnded) return;
          res.write(sseEvent(message));
          if (res.writableLength > MAX_QUEUED_BYTES) {
            logger.warn({}, 'MCP client is not reading its SSE stream; closing it');
            res.destroy();
          }
        },
        end() {
          if (!res.destroyed && !res.writableEnded) res.end();
        },
      };
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
}
