/**
 * One client POST carrying JSON-RPC requests to a stdio child, until every request is answered.
 * The answer is JSON when only responses come back, and turns into an SSE stream the moment a
 * related message must reach the client first (MCP 2025-11-25 transports §Sending Messages: the
 * server MAY send requests and notifications before the response; they SHOULD relate to it).
 */
import type { ResponseChannel, SseStream } from './channel.js';
import type { HeaderRecord } from './headers.js';
import { errorResponse, idKey, type JsonRpcId, type JsonRpcResponse } from './jsonrpc.js';

export interface AcceptedTypes {
  json: boolean;
  sse: boolean;
}

/** Which answers the client accepts, from its `Accept` header (absent means anything). */
export function acceptedTypes(accept: string | undefined): AcceptedTypes {
  if (!accept) return { json: true, sse: true };
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  const any = types.includes('*/*');
  return {
    json: any || types.includes('application/json') || types.includes('application/*'),
    sse: any || types.includes('text/event-stream') || types.includes('text/*'),
  };
}

export class Exchange {
  /** Keys of the requests still waiting for a response. */
  readonly pending = new Set<string>();
  /** Keys of all its requests, answered or not. */
  readonly keys: string[];
  readonly progressTokens: string[] = [];
  private readonly ids: JsonRpcId[];
  private readonly responses: JsonRpcResponse[] = [];
  private stream: SseStream | undefined;
  done = false;

  constructor(
    ids: JsonRpcId[],
    private readonly batch: boolean,
    private readonly channel: ResponseChannel,
    private readonly accept: AcceptedTypes,
    private readonly headers: HeaderRecord,
  ) {
    this.ids = ids;
    this.keys = ids.map(idKey);
    for (const key of this.keys) this.pending.add(key);
  }

  /** Sends a related notification or server request ahead of the response; false if it cannot. */
  deliver(message: unknown): boolean {
    if (this.done || !this.accept.sse) return false;
    const stream = this.openStream();
    if (stream.closed) return false;
    stream.send(message);
    return true;
  }

  /** Takes the response to one of this exchange's requests. */
  respond(message: JsonRpcResponse): void {
    if (this.done || message.id === null || !this.pending.delete(idKey(message.id))) return;
    if (this.stream) this.stream.send(message);
    else this.responses.push(message);
    if (this.pending.size === 0) this.finish();
  }

  /** Answers every outstanding request with an error (the child is gone). */
  fail(code: number, message: string, status: number): void {
    if (this.done) return;
    const errors = this.ids
      .filter((id) => this.pending.has(idKey(id)))
      .map((id) => errorResponse(id, code, message));
    this.pending.clear();
    if (this.stream) {
      for (const e of errors) this.stream.send(e);
      this.finish();
      return;
    }
    this.done = true;
    const all = [...this.responses, ...errors];
    this.channel.json(status, this.batch ? all : all[0], this.headers);
  }

  /** The client went away: nothing more is sent; late responses are dropped by the caller. */
  abandon(): void {
    this.done = true;
    this.pending.clear();
  }

  private finish(): void {
    this.done = true;
    if (this.stream) {
      this.stream.end();
      return;
    }
    if (this.accept.json) {
      this.channel.json(200, this.batch ? this.responses : this.responses[0], this.headers);
      return;
    }
    const stream = this.openStream();
    for (const r of this.responses) stream.send(r);
    stream.end();
  }

  private openStream(): SseStream {
    if (!this.stream) {
      this.stream = this.channel.stream(this.headers);
      for (const r of this.responses.splice(0)) this.stream.send(r);
    }
    return this.stream;
  }
}
