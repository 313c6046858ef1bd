/**
 * The GET side of Streamable HTTP 2025-03-26 … 2025-11-25: the standalone stream for
 * server-initiated messages (§Listening for Messages from the Server) and the GET that resumes a
 * dropped stream with `Last-Event-ID` (§Resumability and Redelivery). The 2026-07-28 revision has
 * neither; its servers answer 405.
 */
import type { Logger } from '../logger.js';
import { TransportError } from './errors.js';
import { bodyKind, errorBodyExcerpt } from './http-body.js';
import type { JsonRpcMessage } from './jsonrpc.js';
import { type ReconnectOptions, reconnectDelay, sleep } from './reconnect.js';
import { readMessageStream } from './sse.js';
import type { FetchLike } from './types.js';

export interface GetStreamContext {
  url: URL;
  fetch: FetchLike;
  logger: Logger;
  maxBytes: number;
  reconnect: ReconnectOptions | undefined;
  maxRetries: number;
  /** Static, session and version headers for the session this stream belongs to. */
  headers(): Record<string, string>;
  onMessage(message: JsonRpcMessage, raw: string | undefined): void;
  /** The last `retry:` any stream gave, and a way to record a new one. */
  serverRetryMs(ms?: number): number | undefined;
  /** A 404: the session is gone. */
  onSessionGone(): void;
}

export type GetOutcome =
  | { kind: 'stream'; body: ReadableStream<Uint8Array> }
  | { kind: 'not_allowed' }
  | { kind: 'session_gone' }
  | { kind: 'failed'; detail: string };

/** One GET for an SSE stream, optionally resuming after `lastEventId`. */
export async function openGet(
  ctx: GetStreamContext,
  lastEventId: string | undefined,
  signal: AbortSignal,
): Promise<GetOutcome> {
  const headers: Record<string, string> = { ...ctx.headers(), accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  let res: Response;
  try {
    res = await ctx.fetch(ctx.url, { method: 'GET', headers, signal });
  } catch (error) {
    return { kind: 'failed', detail: error instanceof Error ? error.message : String(error) };
  }
  if (res.ok && bodyKind(res) === 'sse') return { kind: 'stream', body: res.body! };
  const detail = `HTTP ${res.status} ${await errorBodyExcerpt(res, 200)}`.trim();
  if (res.status === 405) return { kind: 'not_allowed' };
  if (res.status === 404) return { kind: 'session_gone' };
  return { kind: 'failed', detail };
}

/**
 * Keeps the standalone GET stream open for the life of `signal`: reconnects after the server's
 * `retry:` (or a backoff) with `Last-Event-ID`, stops on 405, reports a 404, and gives up after
 * `maxRetries` attempts in a row that produced nothing.
 */
export async function runGetStream(ctx: GetStreamContext, signal: AbortSignal): Promise<void> {
  let attempt = 0;
  let lastEventId: string | undefined;
  while (!signal.aborted) {
    const got = await openGet(ctx, lastEventId, signal);
    if (signal.aborted) return;
    let progressed = false;
    if (got.kind === 'not_allowed') {
      ctx.logger.debug('the server offers no GET stream (405)');
      return;
    }
    if (got.kind === 'session_gone') return ctx.onSessionGone();
    if (got.kind === 'failed') {
      ctx.logger.debug({ detail: got.detail }, 'the GET stream could not be opened');
    } else {
      const end = await readMessageStream(got.body, {
        maxEventBytes: ctx.maxBytes,
        signal,
        onMessage: ctx.onMessage,
        onRetry: (ms) => ctx.serverRetryMs(ms),
      });
      if (signal.aborted) return;
      if (end.lastEventId !== undefined) lastEventId = end.lastEventId;
      if (end.malformed)
        ctx.logger.warn({ error: end.malformed }, 'ignored a malformed message on the GET stream');
      if (end.error instanceof TransportError && end.error.code === 'message_too_large') {
        ctx.logger.error({ err: end.error.message }, 'dropped an oversized message on the GET stream');
        lastEventId = undefined; // resuming after it would replay it forever
      }
      progressed = end.events > 0;
    }
    attempt = progressed ? 0 : attempt + 1;
    if (attempt > ctx.maxRetries) {
      ctx.logger.warn('gave up on the GET stream; server-initiated messages now arrive only on POST streams');
      return;
    }
    if (!(await sleep(reconnectDelay(ctx.reconnect, attempt, ctx.serverRetryMs()), signal))) return;
  }
}
