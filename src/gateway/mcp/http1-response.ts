/**
 * An incremental HTTP/1.1 response parser for the gateway's upstream leg (RFC 9112), strict where
 * an ambiguity could desynchronise a reused connection: a malformed status line or header, a
 * bare CR or LF, a control character, `Transfer-Encoding` other than `chunked`, both it and
 * `Content-Length`, disagreeing lengths, a bad chunk, an oversized head — each is an error, and
 * the connection is never reused after one. Body bytes are handed on as they arrive, as views of
 * the socket's buffers (no copy). One parser per connection, reset for each response.
 * See docs/decisions/0022-gateway-upstream-http1.md.
 */

/** A response the gateway cannot relay safely. The message names the fault, never a header value. */
export class UpstreamProtocolError extends Error {
  override name = 'UpstreamProtocolError';
}

export interface ResponseHead {
  status: number;
  /** Flat `name, value, …`: names lower-cased, values as sent (latin1) without surrounding OWS. */
  headers: string[];
  /** The connection may carry another request once this response has ended. */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` from the upstream, in ms; undefined when not sent. */
  keepAliveTimeoutMs: number | undefined;
}

/** Where a parsed response goes. Calls arrive in order: head, body*, then complete. */
export interface ResponseSink {
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  complete(): void;
}

/** Node's default `--max-http-header-size`: a longer head is refused, as node:http would. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;

enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
  Failed,
}

/** The reason phrase may hold HTAB, SP, visible ASCII and obs-text (RFC 9112 §4). */
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** RFC 9110 §5.6.2 tchar, by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})/i;

const CR = 0x0d;
const LF = 0x0a;
/** Terminators as bytes: `indexOf` with a string would encode it on every call. */
const CRLF = Buffer.from('\r\n', 'latin1');
const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');

export class ResponseParser {
  #state = State.Done;
  #sink: ResponseSink | undefined;
  /** Bytes of an unfinished head, chunk-size line or trailer section. */
  #pending: Buffer | undefined;
  /** Body bytes left: of the Content-Length body, or of the current chunk. */
  #remaining = 0;
  /** Bytes of the CRLF after a chunk's data still expected (2, 1). */
  #crlfLeft = 0;
  #keepAlive = false;
  /** The answer has begun: some byte of it was read. */
  #started = false;

  /** Starts a new response, for `sink`. */
  reset(sink: ResponseSink): void {
    this.#sink = sink;
    this.#state = State.Head;
    this.#pending = undefined;
    this.#started = false;
  }

  /** Some byte of the current response has arrived. */
  get started(): boolean {
    return this.#started;
  }

  /** The current response is complete (and the sink told). */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** The connection may serve another request: the response completed and allowed it. */
  get reusable(): boolean {
    return this.#state === State.Done && this.#keepAlive;
  }

  /**
   * Stops delivering to the sink (the exchange was aborted, or the response failed); the
   * connection is not reused.
   */
  halt(): void {
    this.#state = State.Failed;
    this.#sink = undefined;
  }

  /**
   * Feeds bytes read from the connection. Returns how many belonged to the current response: fewer
   * than given means the upstream sent more than it was asked for. Throws UpstreamProtocolError.
   */
  execute(chunk: Buffer): number {
    if (chunk.length > 0) this.#started = true;
    let off = 0;
    try {
      while (off < chunk.length) {
        switch (this.#state) {
          case State.Head:
            off = this.#head(chunk, off);
            break;
          case State.Length:
          case State.ChunkData: {
            const n = Math.min(this.#remaining, chunk.length - off);
            this.#remaining -= n;
            this.#deliver(chunk, off, n);
            off += n;
            if (this.#halted()) return off;
            if (this.#remaining > 0) break;
            if (this.#state === State.Length) {
              this.#complete();
            } else {
              this.#state = State.ChunkEnd;
              this.#crlfLeft = 2;
            }
            break;
          }
          case State.ChunkSize:
            off = this.#chunkSize(chunk, off);
            break;
          case State.ChunkEnd: {
            const expected = this.#crlfLeft === 2 ? CR : LF;
            if (chunk[off] !== expected) throw new UpstreamProtocolError('chunk data not followed by CRLF');
            off++;
            if (--this.#crlfLeft === 0) this.#state = State.ChunkSize;
            break;
          }
          case State.Trailers:
            off = this.#trailers(chunk, off);
            break;
          case State.UntilClose:
            this.#deliver(chunk, off, chunk.length - off);
            off = chunk.length;
            break;
          case State.Done:
          case State.Failed:
            return off;
        }
      }
    } catch (err) {
      this.halt();
      throw err;
    }
    return off;
  }

  /** The connection ended: completes a close-delimited body; anything else was cut short. */
  end(): void {
    if (this.#state === State.UntilClose) {
      this.#complete();
      return;
    }
    if (this.#state === State.Done || this.#state === State.Failed) return;
    this.halt();
    throw new UpstreamProtocolError(
      this.#started
        ? 'the MCP server closed the connection mid-response'
        : 'the MCP server closed the connection',
    );
  }

  /** A sink callback called `halt()`: nothing after it may change the state. */
  #halted(): boolean {
    return this.#state === State.Failed;
  }

  #deliver(chunk: Buffer, off: number, n: number): void {
    if (n > 0) this.#sink?.body(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
  }

  #complete(): void {
    this.#state = State.Done;
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.complete();
  }

  /**
   * The bytes up to and including `terminator`, the held bytes of an earlier read first; or, when
   * it has not arrived yet, `chunk.length` after holding what there is (within `limit`).
   * The caller's next offset into `chunk` is `off + taken.length - held`.
   */
  #takeUntil(chunk: Buffer, off: number, terminator: Buffer, limit: number, what: string): Buffer | number {
    const held = this.#pending?.length ?? 0;
    const buf = held > 0 ? Buffer.concat([this.#pending!, chunk.subarray(off)]) : chunk;
    const start = held > 0 ? 0 : off;
    // The terminator may straddle the previous read and this one: search from just before the seam.
    const at = buf.indexOf(terminator, Math.max(start, held - terminator.length + 1));
    const length = at < 0 ? buf.length - start : at + terminator.length - start;
    if (length > limit) throw new UpstreamProtocolError(`${what} too long`);
    if (at < 0) {
      this.#pending = Buffer.from(buf.subarray(start)); // a copy: the socket may reuse its buffer
      return chunk.length;
    }
    this.#pending = undefined;
    return buf.subarray(start, at + terminator.length);
  }

  #head(chunk: Buffer, off: number): number {
    const held = this.#pending?.length ?? 0;
    const taken = this.#takeUntil(chunk, off, BLANK_LINE, MAX_HEAD_BYTES, 'response head');
    if (typeof taken === 'number') {
      // A head with bare-LF line endings would never show its CRLF CRLF: refuse it now, not at
      // the connection's end or the size limit.
      const sofar = this.#pending!;
      for (let i = sofar.indexOf(LF); i >= 0; i = sofar.indexOf(LF, i + 1)) {
        if (i === 0 || sofar[i - 1] !== CR)
          throw new UpstreamProtocolError('bare CR or LF in the response head');
      }
      return taken;
    }
    const next = off + taken.length - held;
    // Up to and including the last header line's CRLF; the blank line is dropped.
    const text = taken.toString('latin1', 0, taken.length - 2);
    const eol = lineEnd(text, 0);
    const status = STATUS_LINE.exec(text.slice(0, eol));
    if (!status) throw new UpstreamProtocolError('malformed status line');
    const code = Number(status[2]);
    const http10 = status[1] === '0';
    const headers = readFieldLines(text, eol + 2);
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let close = http10;
    let keepAliveTimeoutMs: number | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const value = headers[i + 1]!;
      switch (headers[i]) {
        case 'content-length':
          for (const part of value.split(',')) {
            const length = part.trim();
            if (!DIGITS.test(length)) throw new UpstreamProtocolError('invalid Content-Length');
            if (contentLength !== undefined && contentLength !== length) {
              throw new UpstreamProtocolError('conflicting Content-Length values');
            }
            contentLength = length;
          }
          break;
        case 'transfer-encoding':
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
          break;
        case 'connection':
          for (const token of value.split(',')) {
            const t = token.trim().toLowerCase();
            if (t === 'close') close = true;
            else if (t === 'keep-alive' && http10) close = true; // 1.0 keep-alive is not worth the risk
          }
          break;
        case 'keep-alive': {
          const m = KEEP_ALIVE_TIMEOUT.exec(value);
          if (m) keepAliveTimeoutMs = Number(m[1]) * 1000;
          break;
        }
      }
    }
    if (code < 200) {
      // 1xx: interim (100, 103 …), followed by the real answer. We never ask to switch protocols.
      if (code === 101) throw new UpstreamProtocolError('unexpected 101 Switching Protocols');
      this.#state = State.Head;
      return next;
    }
    let state: State;
    if (code === 204 || code === 304) {
      state = State.Done;
    } else if (transferEncoding !== undefined) {
      if (contentLength !== undefined) {
        throw new UpstreamProtocolError('both Transfer-Encoding and Content-Length');
      }
      if (transferEncoding.trim().toLowerCase() !== 'chunked') {
        throw new UpstreamProtocolError('unsupported Transfer-Encoding');
      }
      state = State.ChunkSize;
    } else if (contentLength !== undefined) {
      this.#remaining = Number(contentLength);
      state = this.#remaining === 0 ? State.Done : State.Length;
    } else {
      state = State.UntilClose;
      close = true;
    }
    this.#keepAlive = !close;
    this.#state = state;
    this.#sink?.head({ status: code, headers, keepAlive: !close, keepAliveTimeoutMs });
    if (state === State.Done && !this.#halted()) this.#complete();
    return next;
  }

  #chunkSize(chunk: Buffer, off: number): number {
    const held = this.#pending?.length ?? 0;
    const taken = this.#takeUntil(chunk, off, CRLF, MAX_CHUNK_LINE_BYTES, 'chunk size line');
    if (typeof taken === 'number') return taken;
    const m = CHUNK_SIZE_LINE.exec(taken.toString('latin1', 0, taken.length - 2));
    if (!m) throw new UpstreamProtocolError('malformed chunk size');
    const size = Number.parseInt(m[1]!, 16);
    if (size === 0) {
      this.#state = State.Trailers;
    } else {
      this.#remaining = size;
      this.#state = State.ChunkData;
    }
    return off + taken.length - held;
  }

  /** The trailer section after the last chunk: validated like headers, then discarded. */
  #trailers(chunk: Buffer, off: number): number {
    const held = this.#pending?.length ?? 0;
    // Either a bare CRLF (no trailers) or header lines ending in an empty line.
    const first = held > 0 ? this.#pending![0] : chunk[off];
    const second = held > 1 ? this.#pending![1] : held === 1 ? chunk[off] : chunk[off + 1];
    if (first === CR && second === undefined) {
      this.#pending = Buffer.from([CR]);
      return chunk.length;
    }
    if (first === CR && second === LF) {
      const next = off + 2 - held;
      this.#pending = undefined;
      this.#complete();
      return next;
    }
    const taken = this.#takeUntil(chunk, off, BLANK_LINE, MAX_HEAD_BYTES, 'trailer section');
    if (typeof taken === 'number') return taken;
    readFieldLines(taken.toString('latin1', 0, taken.length - 2), 0);
    this.#complete();
    return off + taken.length - held;
  }
}

/** Where the line starting at `from` ends: at a CR, which must be followed by LF. */
function lineEnd(text: string, from: number): number {
  const cr = text.indexOf('\r', from);
  if (cr < 0 || text.charCodeAt(cr + 1) !== LF)
    throw new UpstreamProtocolError('bare CR or LF in the response head');
  return cr;
}

/**
 * Field lines (`name: value CRLF`…) from `pos` to the end of `text`, as flat lower-cased name and
 * value pairs. No whitespace before the colon, no obs-fold continuation (RFC 9112 §5.1–5.2), no
 * control character but HTAB in a value; OWS around the value is dropped.
 */
function readFieldLines(text: string, pos: number): string[] {
  const fields: string[] = [];
  while (pos < text.length) {
    const end = lineEnd(text, pos);
    let i = pos;
    while (i < end && text.charCodeAt(i) < 128 && TCHAR[text.charCodeAt(i)] === 1) i++;
    if (i === pos || text.charCodeAt(i) !== 0x3a) throw new UpstreamProtocolError('malformed header line');
    const name = text.slice(pos, i).toLowerCase();
    i++;
    while (i < end && isOws(text.charCodeAt(i))) i++;
    const start = i;
    let last = i; // one past the last non-OWS character
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f)
        throw new UpstreamProtocolError('invalid character in a header value');
      if (!isOws(c)) last = i + 1;
    }
    fields.push(name, text.slice(start, last));
    pos = end + 2;
  }
  return fields;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
