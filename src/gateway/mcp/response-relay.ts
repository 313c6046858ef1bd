/**
 * Relaying an upstream exchange to the client without buffering, on either path: into a
 * node:http `ServerResponse` (the fast path) or into a fetch `Response` (the `handle` path).
 * Each chunk is handed on the moment it is read (an SSE event is never held back for a later
 * one), with backpressure both ways; when the client goes away the exchange is aborted.
 */
import type { ServerResponse } from 'node:http';
import type { ResponseHead } from './http1-response.js';
import { errorToResponse, writeNodeError } from './render.js';
import type { Exchange, ExchangeHandlers } from './upstream-connections.js';

/** What the client gets instead of the upstream's head: status and flat headers, or a throw. */
export type Translate = (head: ResponseHead) => { status: number; headers: string[]; headersAloneMs: number };

/** An exchange in flight, as the endpoint tracks it for shutdown. */
export interface Relay {
  /** Ends the exchange now: the upstream leg is closed, the client's answer cut off. */
  cut(): void;
}

/**
 * The client's status and headers for the upstream's head; or, when `translate` refuses it (an
 * upstream 401, say), undefined after the exchange is abandoned and `refuse` has answered instead.
 */
function translateOrRefuse(
  relay: { exchange: Exchange | undefined; translate: Translate; settled: (relay: Relay) => void } & Relay,
  head: ResponseHead,
  refuse: (err: unknown) => void,
): ReturnType<Translate> | undefined {
  try {
    return relay.translate(head);
  } catch (err) {
    relay.exchange?.abort();
    relay.settled(relay);
    refuse(err);
    return undefined;
  }
}

/** 64 KiB queued toward a slow reader before the upstream is paused. */
const HIGH_WATER_BYTES = 64 * 1024;

/** A status a fetch `Response` may carry with a body. */
function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

/**
 * Into a node:http response. The headers leave with the first chunk; when the upstream sent
 * headers alone, they leave on their own after `headersAloneMs` (0: at once) — the client of a
 * GET stream needs them to know the stream is open, while a POST's SSE answer (the SDK flushes
 * its headers before the first event) gains a packet and a wake-up on both sides by waiting a
 * moment for that event, yet still shows its headers long before a client-side headers timeout.
 */
export class NodeRelay implements ExchangeHandlers, Relay {
  exchange: Exchange | undefined;
  #sent = false;
  #timer: NodeJS.Timeout | undefined;
  #headersAloneMs = 0;

  constructor(
    readonly res: ServerResponse,
    readonly translate: Translate,
    /** The error to answer when the exchange fails before a response (a 502 with the request's id). */
    readonly failed: (err: Error) => unknown,
    readonly settled: (relay: Relay) => void,
  ) {}

  response(head: ResponseHead): void {
    const out = translateOrRefuse(this, head, (err) => writeNodeError(this.res, err));
    if (!out) return;
    this.#headersAloneMs = out.headersAloneMs;
    this.res.writeHead(out.status, out.headers);
  }

  data(chunk: Buffer): void {
    this.#sent = true;
    this.#clearTimer();
    if (!this.res.write(chunk)) {
      this.exchange?.pause();
      this.res.once('drain', () => this.exchange?.resume());
    }
  }

  waiting(): void {
    // (`headersSent` is already true after `writeHead`, though nothing has left yet.)
    if (this.#sent || this.#timer) return;
    if (this.#headersAloneMs === 0) this.#flushHeaders();
    else this.#timer = setTimeout(() => this.#flushHeaders(), this.#headersAloneMs);
  }

  end(): void {
    this.#clearTimer();
    this.settled(this);
    if (!this.res.writableEnded) this.res.end();
  }

  error(err: Error): void {
    this.#clearTimer();
    this.settled(this);
    if (this.res.headersSent || this.res.writableEnded) this.res.destroy();
    else writeNodeError(this.res, this.failed(err));
  }

  /** The client went away (or shutdown): close the upstream leg. */
  cut(): void {
    this.#clearTimer();
    this.exchange?.abort();
    this.settled(this);
    if (!this.res.writableEnded) this.res.destroy();
  }

  #flushHeaders(): void {
    this.#timer = undefined;
    this.#sent = true; // once is enough
    if (!this.res.writableEnded && !this.res.destroyed) this.res.flushHeaders();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Into a fetch `Response`, resolved once the upstream's head arrives (or the exchange fails). */
export class WebRelay implements ExchangeHandlers, Relay {
  exchange: Exchange | undefined;
  readonly response$: Promise<Response>;
  #resolve!: (response: Response) => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #finished = false;

  constructor(
    readonly translate: Translate,
    readonly failed: (err: Error) => unknown,
    readonly settled: (relay: Relay) => void,
  ) {
    this.response$ = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  response(head: ResponseHead): void {
    const out = translateOrRefuse(this, head, (err) => this.#resolve(errorToResponse(err)));
    if (!out) return;
    const pairs: [string, string][] = [];
    for (let i = 0; i < out.headers.length; i += 2) pairs.push([out.headers[i]!, out.headers[i + 1]!]);
    let body: ReadableStream<Uint8Array> | null = null;
    if (!isNullBodyStatus(out.status)) {
      body = new ReadableStream<Uint8Array>(
        {
          start: (controller) => {
            this.#controller = controller;
          },
          pull: () => this.exchange?.resume(),
          cancel: () => {
            this.#finished = true;
            this.exchange?.abort();
            this.settled(this);
          },
        },
        { highWaterMark: HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
      );
    }
    this.#resolve(new Response(body, { status: out.status, headers: pairs }));
  }

  data(chunk: Buffer): void {
    const controller = this.#controller;
    if (!controller || this.#finished) return;
    controller.enqueue(chunk);
    if ((controller.desiredSize ?? 0) <= 0) this.exchange?.pause();
  }

  end(): void {
    this.settled(this);
    if (this.#finished) return;
    this.#finished = true;
    this.#controller?.close();
  }

  error(err: Error): void {
    this.settled(this);
    if (this.#finished) return;
    this.#finished = true;
    if (this.#controller)
      this.#controller.error(new Error('the MCP server closed the stream', { cause: err }));
    else this.#resolve(errorToResponse(this.failed(err)));
  }

  cut(): void {
    this.exchange?.abort();
    this.error(new Error('the gateway is shutting down'));
  }
}
