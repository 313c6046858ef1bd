/**
 * MCP §Transports, stdio: messages are newline-delimited JSON-RPC and MUST NOT contain embedded
 * newlines; stdout carries nothing but these messages. The reader bounds line length and turns
 * every bad line into a JSON-RPC error the caller can send back, never an exception.
 */
import type { Readable, Writable } from 'node:stream';
import {
  errorResponse,
  JsonRpcErrorCode,
  type JsonRpcFailure,
  type JsonRpcMessage,
  parseJsonRpcText,
} from './jsonrpc.js';

export const DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024;

export interface StdioReaderHandlers {
  /** One valid message; `raw` is its line (no newline), reusable as-is when forwarding. */
  onMessage(message: JsonRpcMessage, raw: string): void;
  /** A line that was not a valid message: the error response to send back (id null when unknown). */
  onInvalid(response: JsonRpcFailure): void;
  /** The input ended or failed; called once. */
  onClose(error?: Error): void;
}

export interface StdioReader {
  /** Stops reading and detaches from the stream. */
  stop(): void;
}

const NL = 0x0a;

/** Reads newline-delimited JSON-RPC from `input`; lines over `maxLineBytes` are discarded and reported. */
export function readNdjson(
  input: Readable,
  handlers: StdioReaderHandlers,
  opts: { maxLineBytes?: number | undefined } = {},
): StdioReader {
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let discarding = false; // inside an oversized line: drop bytes until the next newline
  let closed = false;

  const emitLine = (line: Buffer) => {
    let text = line.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1); // tolerate CRLF from Windows hosts
    if (text.trim() === '') return;
    const outcome = parseJsonRpcText(text);
    if (outcome.ok) handlers.onMessage(outcome.message, text);
    else handlers.onInvalid(errorResponse(outcome.id, outcome.error));
  };

  const oversized = () =>
    handlers.onInvalid(
      errorResponse(null, {
        code: JsonRpcErrorCode.ParseError,
        message: `Parse error: message exceeds the ${maxLineBytes}-byte limit and was discarded`,
      }),
    );

  const onData = (chunk: Buffer | string) => {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    while (buf.length > 0) {
      const nl = buf.indexOf(NL);
      if (nl === -1) {
        if (discarding) return;
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes > maxLineBytes) {
          pending = [];
          pendingBytes = 0;
          discarding = true;
          oversized();
        }
        return;
      }
      const head = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      if (discarding) {
        discarding = false;
        continue;
      }
      if (pendingBytes + head.length > maxLineBytes) {
        pending = [];
        pendingBytes = 0;
        oversized();
        continue;
      }
      const line = pending.length === 0 ? head : Buffer.concat([...pending, head]);
      pending = [];
      pendingBytes = 0;
      emitLine(line);
    }
  };

  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    detach();
    // A final line without a newline is still a message (hosts rarely do this, but it costs nothing).
    if (!error && !discarding && pending.length > 0) emitLine(Buffer.concat(pending));
    pending = [];
    handlers.onClose(error);
  };
  const onEnd = () => finish();
  const onError = (error: Error) => finish(error);
  const onClose = () => finish();
  const detach = () => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.off('error', onError);
    input.off('close', onClose);
  };

  input.on('data', onData);
  input.on('end', onEnd);
  input.on('error', onError);
  input.on('close', onClose);
  return {
    stop() {
      closed = true;
      detach();
      input.pause();
    },
  };
}

export interface NdjsonWriter {
  /** Writes one message; pass `raw` (a JSON text without newlines) to skip re-serialising. */
  write(message: JsonRpcMessage, raw?: string): boolean;
  /** True once the output failed (e.g. EPIPE: the host went away). */
  readonly broken: boolean;
}

/** Writes newline-delimited JSON-RPC to `output`; nothing else ever goes there (C42). */
export function ndjsonWriter(output: Writable, onBroken?: (error: Error) => void): NdjsonWriter {
  let broken = false;
  output.on('error', (error: Error) => {
    if (broken) return;
    broken = true;
    onBroken?.(error);
  });
  return {
    write(message, raw) {
      if (broken) return false;
      // MCP §stdio: a message MUST NOT contain embedded newlines. JSON.stringify never emits one;
      // a server's pretty-printed text might, so such text is re-serialised.
      const line =
        raw !== undefined && raw.indexOf('\n') === -1 && raw.indexOf('\r') === -1
          ? raw
          : JSON.stringify(message);
      // Two writes rather than `${line}\n`: concatenating would copy a large message once more.
      output.write(line);
      output.write('\n');
      return true;
    },
    get broken() {
      return broken;
    },
  };
}
