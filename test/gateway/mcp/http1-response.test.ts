// The gateway's incremental HTTP/1.1 response parser (decision 0022): every response is fed whole,
// split at every byte offset and byte by byte, and must parse the same way each time; every
// rejection throws UpstreamProtocolError without echoing the offending value.
import { describe, expect, it } from 'vitest';
import {
  MAX_HEAD_BYTES,
  type ResponseHead,
  ResponseParser,
  type ResponseSink,
  UpstreamProtocolError,
} from '../../../src/gateway/mcp/http1-response.js';
import { catchError } from '../helpers.js';

const SECRET = 'secret-token-value';

interface Recorder {
  sink: ResponseSink;
  heads: ResponseHead[];
  parts: Buffer[];
  events: string[];
  completed: number;
}

function recorder(): Recorder {
  const r: Recorder = {
    heads: [],
    parts: [],
    events: [],
    completed: 0,
    sink: {
      head: (head) => {
        r.events.push('head');
        r.heads.push(head);
      },
      // The chunk is a view of the caller's buffer: copy it at once, as a relay would write it at once.
      body: (chunk) => {
        r.events.push('body');
        r.parts.push(Buffer.from(chunk));
      },
      complete: () => {
        r.events.push('complete');
        r.completed++;
      },
    },
  };
  return r;
}

/** `raw` cut at `cuts`, each piece a fresh buffer that is scribbled over once the parser returns. */
function* pieces(raw: Buffer, cuts: readonly number[]): Generator<Buffer> {
  let prev = 0;
  for (const cut of [...cuts, raw.length]) {
    if (cut === prev) continue;
    const piece = Buffer.from(raw.subarray(prev, cut));
    yield piece;
    // A socket may reuse its buffer after the read: the parser must not still point into it.
    piece.fill(0x23);
    prev = cut;
  }
}

/** Whole, split once at every offset, and byte by byte. */
function cutsOf(length: number): number[][] {
  const all: number[][] = [[]];
  for (let i = 1; i < length; i++) all.push([i]);
  all.push(Array.from({ length: length - 1 }, (_, i) => i + 1));
  return all;
}

interface Outcome {
  heads: ResponseHead[];
  body: string;
  events: string;
  consumed: number;
  done: boolean;
  reusable: boolean;
}

function parse(raw: Buffer, cuts: readonly number[], opts: { end?: boolean } = {}): Outcome {
  const parser = new ResponseParser();
  const r = recorder();
  parser.reset(r.sink);
  let consumed = 0;
  for (const piece of pieces(raw, cuts)) consumed += parser.execute(piece);
  if (opts.end) parser.end();
  return {
    heads: r.heads,
    body: Buffer.concat(r.parts).toString('latin1'),
    // Runs of body chunks collapse to one `body*`: how a body is cut differs, the order may not.
    events: r.events
      .filter((e, i) => e !== 'body' || r.events[i - 1] !== 'body')
      .map((e) => (e === 'body' ? 'body*' : e))
      .join(' '),
    consumed,
    done: parser.done,
    reusable: parser.reusable,
  };
}

/** Parses `raw` under every cut and checks each outcome equals the whole-chunk one, then returns it. */
function parseEveryWay(raw: Buffer, opts: { end?: boolean } = {}): Outcome {
  const whole = parse(raw, [], opts);
  for (const cuts of cutsOf(raw.length)) {
    const split = parse(raw, cuts, opts);
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      expect({ cuts, ...split }).toEqual({ cuts, ...whole });
    }
  }
  return whole;
}

/** Feeds `raw` under `cuts` until the parser throws; returns the error (and checks what follows it). */
function rejection(raw: Buffer, cuts: readonly number[], opts: { end?: boolean } = {}): unknown {
  const parser = new ResponseParser();
  const r = recorder();
  parser.reset(r.sink);
  let error: unknown;
  try {
    for (const piece of pieces(raw, cuts)) parser.execute(piece);
    if (opts.end) parser.end();
  } catch (err) {
    error = err;
  }
  if (error !== undefined) {
    // After a rejection: nothing more is read or delivered, and the connection is never reused.
    const events = r.events.length;
    expect(parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'))).toBe(0);
    expect(() => parser.end()).not.toThrow();
    expect(r.events.length).toBe(events);
    expect(r.events).not.toContain('complete');
    expect(parser.done).toBe(false);
    expect(parser.reusable).toBe(false);
  }
  return error;
}

/** `raw` is refused under every cut, with a message matching `message` and never naming the secret. */
function expectRejectedEveryWay(raw: Buffer, message: RegExp, opts: { end?: boolean } = {}): void {
  for (const cuts of cutsOf(raw.length)) {
    const err = rejection(raw, cuts, opts);
    if (!(err instanceof UpstreamProtocolError)) {
      expect.fail(`not rejected when cut at [${cuts.join(',')}]: ${String(err)}`);
    }
    expect(err.name).toBe('UpstreamProtocolError');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('secret');
  }
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('HTTP/1.1 responses parsed whole, split at every offset and byte by byte', () => {
  it('a Content-Length body', () => {
    const body = '{"jsonrpc":"2.0","id":1,"result":{}}';
    const raw = bytes(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const out = parseEveryWay(raw);
    expect(out).toEqual({
      heads: [
        {
          status: 200,
          headers: ['content-type', 'application/json', 'content-length', String(body.length)],
          keepAlive: true,
          keepAliveTimeoutMs: undefined,
        },
      ],
      body,
      events: 'head body* complete',
      consumed: raw.length,
      done: true,
      reusable: true,
    });
  });

  it('Content-Length: 0, and a repeated or listed Content-Length that agrees', () => {
    const empty = parseEveryWay(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(empty.events).toBe('head complete');
    expect(empty.body).toBe('');
    expect(empty.reusable).toBe(true);

    const listed = parseEveryWay(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc'),
    );
    expect(listed.body).toBe('abc');
    expect(listed.done).toBe(true);
    expect(listed.heads[0]!.headers).toEqual(['content-length', '3, 3', 'content-length', '3']);
  });

  it('a chunked body with several chunks, chunk extensions and trailers', () => {
    const raw = bytes(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n' +
        '5;name=value\r\nhello\r\n' +
        '2 \t;ext="quoted; value"\r\n, \r\n' +
        'A\r\n0123456789\r\n' +
        'b;x\r\nabcdefghijk\r\n' +
        '0;last=1\r\nX-Checksum: abc\r\nServer-Timing: total;dur=1\r\n\r\n',
    );
    const out = parseEveryWay(raw);
    expect(out.heads).toEqual([
      {
        status: 200,
        headers: ['transfer-encoding', 'chunked', 'content-type', 'text/event-stream'],
        keepAlive: true,
        keepAliveTimeoutMs: undefined,
      },
    ]);
    expect(out.body).toBe('hello, 0123456789abcdefghijk');
    expect(out.events).toBe('head body* complete');
    expect(out.consumed).toBe(raw.length);
    expect(out.reusable).toBe(true);
  });

  it('a chunked body without trailers, and an empty chunked body', () => {
    const raw = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n');
    const out = parseEveryWay(raw);
    expect(out.body).toBe('abcd');
    expect(out.consumed).toBe(raw.length);
    expect(out.reusable).toBe(true);

    const empty = parseEveryWay(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    expect(empty.events).toBe('head complete');
    expect(empty.done).toBe(true);
  });

  it('204 and 304 end at the head, whatever length they announce', () => {
    const noContent = bytes('HTTP/1.1 204 No Content\r\nMcp-Session-Id: s1\r\n\r\n');
    const out204 = parseEveryWay(noContent);
    expect(out204).toEqual({
      heads: [
        { status: 204, headers: ['mcp-session-id', 's1'], keepAlive: true, keepAliveTimeoutMs: undefined },
      ],
      body: '',
      events: 'head complete',
      consumed: noContent.length,
      done: true,
      reusable: true,
    });

    const notModified = bytes('HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: "x"\r\n\r\n');
    const out304 = parseEveryWay(notModified);
    expect(out304.heads[0]!.status).toBe(304);
    expect(out304.events).toBe('head complete');
    expect(out304.consumed).toBe(notModified.length);
    expect(out304.reusable).toBe(true);

    const chunked304 = parseEveryWay(
      bytes('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'),
    );
    expect(chunked304.events).toBe('head complete');
  });

  it('100 Continue and 103 Early Hints are skipped: only the final response is reported', () => {
    const raw = bytes(
      'HTTP/1.1 100 Continue\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 201 Created\r\nContent-Length: 4\r\nLocation: /x\r\n\r\ndone',
    );
    const out = parseEveryWay(raw);
    expect(out.heads).toEqual([
      {
        status: 201,
        headers: ['content-length', '4', 'location', '/x'],
        keepAlive: true,
        keepAliveTimeoutMs: undefined,
      },
    ]);
    expect(out.body).toBe('done');
    expect(out.events).toBe('head body* complete');
    expect(out.consumed).toBe(raw.length);
  });

  it('a body without a length runs until the connection closes: end() completes it, never reused', () => {
    const raw = bytes('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this, until close');
    const open = parseEveryWay(raw);
    expect(open.events).toBe('head body*');
    expect(open.done).toBe(false);
    expect(open.heads[0]!.keepAlive).toBe(false);

    const closed = parseEveryWay(raw, { end: true });
    expect(closed).toEqual({
      heads: [
        {
          status: 200,
          headers: ['content-type', 'text/plain'],
          keepAlive: false,
          keepAliveTimeoutMs: undefined,
        },
      ],
      body: 'all of this, until close',
      events: 'head body* complete',
      consumed: raw.length,
      done: true,
      reusable: false,
    });

    const headOnly = parseEveryWay(bytes('HTTP/1.1 200 OK\r\n\r\n'), { end: true });
    expect(headOnly.events).toBe('head complete');
    expect(headOnly.heads[0]!.headers).toEqual([]);
    expect(headOnly.reusable).toBe(false);
  });

  it('Connection: close (in any case, among other tokens) is not reusable', () => {
    for (const value of ['close', 'Keep-Alive, CLOSE', 'upgrade,close']) {
      const out = parseEveryWay(
        bytes(`HTTP/1.1 200 OK\r\nConnection: ${value}\r\nContent-Length: 2\r\n\r\nok`),
      );
      expect(out.heads[0]!.keepAlive).toBe(false);
      expect(out.body).toBe('ok');
      expect(out.done).toBe(true);
      expect(out.reusable).toBe(false);
    }
    const keep = parseEveryWay(
      bytes('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok'),
    );
    expect(keep.reusable).toBe(true);
  });

  it('HTTP/1.0 is never reusable, even with Connection: keep-alive', () => {
    for (const extra of ['', 'Connection: keep-alive\r\n']) {
      const out = parseEveryWay(bytes(`HTTP/1.0 200 OK\r\n${extra}Content-Length: 2\r\n\r\nok`));
      expect(out.heads[0]!.status).toBe(200);
      expect(out.heads[0]!.keepAlive).toBe(false);
      expect(out.body).toBe('ok');
      expect(out.done).toBe(true);
      expect(out.reusable).toBe(false);
    }
  });

  it('Keep-Alive: timeout=N is reported in ms', () => {
    const out = parseEveryWay(
      bytes('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n'),
    );
    expect(out.heads[0]!.keepAliveTimeoutMs).toBe(5000);
    expect(out.heads[0]!.keepAlive).toBe(true);

    const only = (value: string) =>
      parse(bytes(`HTTP/1.1 200 OK\r\nKeep-Alive: ${value}\r\nContent-Length: 0\r\n\r\n`), []).heads[0]!
        .keepAliveTimeoutMs;
    expect(only('max=5, Timeout = 12')).toBe(12_000);
    expect(only('timeout=0')).toBe(0);
    expect(only('max=5')).toBeUndefined();
    expect(only('notimeout=5')).toBeUndefined();
  });

  it('trims OWS around values, keeps inner whitespace, obs-text and empty values', () => {
    const raw = bytes(
      'HTTP/1.1 200 \tOK \x80\xff\r\n' +
        'X-Padded: \t  value with  inner\tspace \t \r\n' +
        'X-Tight:v\r\n' +
        'X-Empty:\r\n' +
        'X-Blank:   \t \r\n' +
        'X-Latin: caf\xe9\r\n' +
        'Content-Length: 0\r\n\r\n',
    );
    const out = parseEveryWay(raw);
    expect(out.heads[0]!.headers).toEqual([
      'x-padded',
      'value with  inner\tspace',
      'x-tight',
      'v',
      'x-empty',
      '',
      'x-blank',
      '',
      'x-latin',
      'café',
      'content-length',
      '0',
    ]);
  });

  it('lower-cases header names, keeps values and repeated headers as sent, in order', () => {
    const raw = bytes(
      'HTTP/1.1 200 OK\r\nMCP-Session-ID: AbC\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n' +
        "X-Tchar!#$%&'*+.^_`|~: Mixed Value\r\nContent-Length: 0\r\n\r\n",
    );
    const out = parseEveryWay(raw);
    expect(out.heads[0]!.headers).toEqual([
      'mcp-session-id',
      'AbC',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
      "x-tchar!#$%&'*+.^_`|~",
      'Mixed Value',
      'content-length',
      '0',
    ]);
  });

  it('a status line without a reason phrase, and any 2xx–5xx status', () => {
    expect(parseEveryWay(bytes('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).heads[0]!.status).toBe(200);
    expect(parseEveryWay(bytes('HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n')).heads[0]!.status).toBe(599);
    const notFound = parse(bytes('HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx'), []);
    expect(notFound.heads[0]!.status).toBe(404);
    expect(notFound.reusable).toBe(true);
  });
});

describe('what execute() consumes', () => {
  it('returns fewer bytes than given when more follow a complete response, and 0 once done', () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const second = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    const raw = bytes(first + second + 'junk');
    const parser = new ResponseParser();
    const a = recorder();
    parser.reset(a.sink);
    expect(parser.execute(raw)).toBe(first.length);
    expect(parser.done).toBe(true);
    expect(parser.reusable).toBe(true);
    expect(parser.execute(raw.subarray(first.length))).toBe(0);
    expect(a.events).toEqual(['head', 'body', 'complete']);
    expect(Buffer.concat(a.parts).toString()).toBe('ok');

    // The same parser, reset, reads the next response from where the first stopped.
    const b = recorder();
    parser.reset(b.sink);
    expect(parser.execute(raw.subarray(first.length))).toBe(second.length);
    expect(Buffer.concat(b.parts).toString()).toBe('abc');
    expect(b.completed).toBe(1);
    expect(a.events).toEqual(['head', 'body', 'complete']);
  });

  it('stops after a 204 head and after a chunked trailer section, under every cut', () => {
    for (const response of [
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]) {
      const out = parseEveryWay(bytes(`${response}HTTP/1.1 200 OK\r\n\r\nstray`));
      expect(out.consumed).toBe(response.length);
      expect(out.events).toMatch(/complete$/);
      expect(out.body).not.toContain('stray');
    }
  });

  it('tracks started and done for each response', () => {
    const parser = new ResponseParser();
    const r = recorder();
    parser.reset(r.sink);
    expect(parser.started).toBe(false);
    expect(parser.done).toBe(false);
    expect(parser.execute(Buffer.alloc(0))).toBe(0);
    expect(parser.started).toBe(false);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent'));
    expect(parser.started).toBe(true);
    expect(parser.done).toBe(false);
    expect(r.events).toEqual([]);
    parser.execute(bytes('-Length: 1\r\n\r\nx'));
    expect(parser.done).toBe(true);
    parser.reset(recorder().sink);
    expect(parser.started).toBe(false);
    expect(parser.done).toBe(false);
    expect(parser.reusable).toBe(false);
  });
});

describe('responses refused (UpstreamProtocolError, the value never in the message)', () => {
  const ok = 'Content-Length: 0\r\n\r\n';

  it('bare LF line endings (refused by the line check, or earlier while the head is still open)', () => {
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\nX-Token: ${SECRET}\r\n${ok}`),
      /malformed status line|bare CR or LF/,
    );
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\nX-Other: 1\r\n${ok}`),
      /invalid character in a header value|bare CR or LF/,
    );
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\n\r\n\r\n`),
      /invalid character|bare CR or LF/,
    );
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${SECRET}\nX: 1\r\n\r\n`),
      /invalid character/,
    );
  });

  it('a head with LF-only line endings is refused as soon as a bare LF is read, not held', () => {
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\nX-Token: ${SECRET}\nContent-Length: 2\n\nok`),
      /bare CR or LF/,
    );
    // One bare LF among CRLFs, with the head still open (no blank line yet): refused all the same.
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\nX-More: 1\r\n`), /bare CR or LF/);
  });

  it('a bare CR', () => {
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\rX-Other: 1\r\n${ok}`), /bare CR/);
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\r\nX-Token: ${SECRET}\r\n${ok}`), /bare CR/);
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\r\r\n${ok}`), /bare CR/);
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX-T: ${SECRET}\r\n\r\n`),
      /bare CR/,
    );
  });

  it('NUL and other control characters in a value (HTAB alone is allowed)', () => {
    for (const c of ['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', '\x7f']) {
      expectRejectedEveryWay(
        bytes(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}${c}tail\r\n${ok}`),
        /invalid character in a header value/,
      );
    }
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token: \x00${SECRET}\r\n${ok}`), /invalid character/);
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${SECRET}\x00\r\n\r\n`),
      /invalid character/,
    );
  });

  it('whitespace before the colon, a missing colon, an empty or non-token name', () => {
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token : ${SECRET}\r\n${ok}`), /malformed header line/);
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-Token\t: ${SECRET}\r\n${ok}`),
      /malformed header line/,
    );
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Token ${SECRET}\r\n${ok}`), /malformed header line/);
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\n: ${SECRET}\r\n${ok}`), /malformed header line/);
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-T(o)ken: ${SECRET}\r\n${ok}`),
      /malformed header line/,
    );
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\nX-Tøken: ${SECRET}\r\n${ok}`), /malformed header line/);
  });

  it('an obs-fold continuation line', () => {
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-Token: a\r\n ${SECRET}\r\n${ok}`),
      /malformed header line/,
    );
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 200 OK\r\nX-Token: a\r\n\t${SECRET}\r\n${ok}`),
      /malformed header line/,
    );
    expectRejectedEveryWay(bytes(`HTTP/1.1 200 OK\r\n ${SECRET}: x\r\n${ok}`), /malformed header line/);
  });

  it('a malformed status line', () => {
    for (const line of [
      `HTTP/1.1 20 ${SECRET}`,
      `HTTP/1.1 2000 ${SECRET}`,
      `HTTP/1.1 099 ${SECRET}`,
      `HTTP/1.2 200 ${SECRET}`,
      `HTTP/2 200 ${SECRET}`,
      `http/1.1 200 ${SECRET}`,
      `HTTP/1.1  200 ${SECRET}`,
      `HTTP/1.1 200${SECRET}`,
      ` HTTP/1.1 200 ${SECRET}`,
      `ICY 200 ${SECRET}`,
      `HTTP/1.1 200 ${SECRET}\x00`,
      `HTTP/1.1 200 ${SECRET}\x7f`,
      '',
    ]) {
      expectRejectedEveryWay(bytes(`${line}\r\n${ok}`), /malformed status line/);
    }
  });

  it('101 Switching Protocols (never asked for)', () => {
    expectRejectedEveryWay(
      bytes(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${SECRET}\r\nConnection: upgrade\r\n\r\n`),
      /101/,
    );
  });

  it('Transfer-Encoding together with Content-Length', () => {
    expectRejectedEveryWay(
      bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'),
      /both Transfer-Encoding and Content-Length/,
    );
    expectRejectedEveryWay(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
      /both Transfer-Encoding and Content-Length/,
    );
  });

  it('a Transfer-Encoding other than chunked alone', () => {
    for (const te of [
      'Transfer-Encoding: gzip',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip',
      'Transfer-Encoding: chunked, chunked',
      'Transfer-Encoding: identity',
      'Transfer-Encoding: ',
      `Transfer-Encoding: ${SECRET}`,
    ]) {
      expectRejectedEveryWay(
        bytes(`HTTP/1.1 200 OK\r\n${te}\r\n\r\n0\r\n\r\n`),
        /unsupported Transfer-Encoding/,
      );
    }
  });

  it('Content-Length values that disagree, listed or repeated', () => {
    expectRejectedEveryWay(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nxx'),
      /conflicting Content-Length/,
    );
    expectRejectedEveryWay(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx'),
      /conflicting Content-Length/,
    );
    expectRejectedEveryWay(
      bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\nContent-Length: 2, 1\r\n\r\nxx'),
      /conflicting Content-Length/,
    );
  });

  it('a Content-Length that is not a plain decimal number', () => {
    for (const value of [
      SECRET,
      '-1',
      '+2',
      '1.0',
      '0x10',
      '1 2',
      '1,',
      '',
      '1234567890123456',
      `2, ${SECRET}`,
    ]) {
      expectRejectedEveryWay(
        bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\nxx`),
        /invalid Content-Length/,
      );
    }
  });

  it('a bad chunk size: not hex, empty, too many digits, or a line too long', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const line of [SECRET, 'zz', '-1', '0x5', '', ' 5', '5 x', '1000000000000', `5${SECRET}`]) {
      expectRejectedEveryWay(bytes(`${head}${line}\r\nhello\r\n0\r\n\r\n`), /malformed chunk size/);
    }
    // Twelve hex digits are still a size (the chunk is simply never finished here).
    const big = parse(bytes(`${head}ffffffffffff\r\nabc`), []);
    expect(big.body).toBe('abc');
    expect(big.done).toBe(false);

    const longExtension = `5;${SECRET}=${'x'.repeat(5000)}`;
    const err = rejection(bytes(`${head}${longExtension}\r\nhello\r\n0\r\n\r\n`), []);
    expect(err).toBeInstanceOf(UpstreamProtocolError);
    expect((err as Error).message).toMatch(/chunk size line too long/);
    expect((err as Error).message).not.toContain(SECRET);
    // … also when it arrives in small pieces, before any CRLF.
    const cuts = Array.from({ length: 800 }, (_, i) => head.length + (i + 1) * 7);
    const pieced = rejection(bytes(`${head}${longExtension}\r\nhello\r\n0\r\n\r\n`), cuts);
    expect(pieced).toBeInstanceOf(UpstreamProtocolError);
    expect((pieced as Error).message).toMatch(/chunk size line too long/);
  });

  it('chunk data not followed by CRLF', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const after of ['X\r\n0\r\n\r\n', '\rX\n0\r\n\r\n', '\n0\r\n\r\n', 'o\r\n0\r\n\r\n']) {
      expectRejectedEveryWay(bytes(`${head}5\r\nhello${after}`), /chunk data not followed by CRLF/);
    }
  });

  it('a head larger than MAX_HEAD_BYTES, whole or in small pieces; one of exactly that size is fine', () => {
    const start = 'HTTP/1.1 200 OK\r\n';
    const end = `\r\n${ok}`;
    const exact = `${start}X-Pad: ${'a'.repeat(MAX_HEAD_BYTES - start.length - 'X-Pad: '.length - end.length)}${end}`;
    expect(Buffer.byteLength(exact)).toBe(MAX_HEAD_BYTES);
    const fits = parse(bytes(exact), []);
    expect(fits.done).toBe(true);
    expect(fits.heads).toHaveLength(1);
    const fitsInPieces = parse(
      bytes(exact),
      Array.from({ length: Math.floor(MAX_HEAD_BYTES / 100) }, (_, i) => (i + 1) * 100),
    );
    expect(fitsInPieces.done).toBe(true);

    const over = bytes(exact.replace('X-Pad: ', 'X-Pad: b'));
    expect(over.length).toBe(MAX_HEAD_BYTES + 1);
    const whole = rejection(over, []);
    expect(whole).toBeInstanceOf(UpstreamProtocolError);
    expect((whole as Error).message).toMatch(/response head too long/);

    const huge = bytes(`${start}X-Token: ${SECRET.repeat(2000)}\r\n${ok}`);
    for (const size of [1, 7, 1000, 4096]) {
      const cuts = Array.from({ length: Math.ceil(huge.length / size) - 1 }, (_, i) => (i + 1) * size);
      const err = rejection(huge, cuts);
      expect(err).toBeInstanceOf(UpstreamProtocolError);
      expect((err as Error).message).toMatch(/response head too long/);
      expect((err as Error).message).not.toContain(SECRET);
    }

    // A trailer section is held to the same limit.
    const trailer = bytes(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${'t'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`,
    );
    const trailerErr = rejection(trailer, []);
    expect(trailerErr).toBeInstanceOf(UpstreamProtocolError);
    expect((trailerErr as Error).message).toMatch(/trailer section too long/);
  });

  it('end() before the response completed: mid-head, mid-body, mid-chunk, mid-trailers', () => {
    const cases: [string, RegExp][] = [
      ['H', /closed the connection mid-response/],
      ['HTTP/1.1 200 OK\r\nContent-Len', /mid-response/],
      ['HTTP/1.1 100 Continue\r\n\r\n', /mid-response/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345', /mid-response/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', /mid-response/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', /mid-response/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', /mid-response/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', /mid-response/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r', /mid-response/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n', /mid-response/],
    ];
    for (const [raw, message] of cases) {
      for (const cuts of cutsOf(raw.length)) {
        const parser = new ResponseParser();
        const r = recorder();
        parser.reset(r.sink);
        for (const piece of pieces(bytes(raw), cuts)) parser.execute(piece);
        const events = r.events.length;
        const err = catchError(() => parser.end());
        expect(err).toBeInstanceOf(UpstreamProtocolError);
        expect((err as Error).message).toMatch(message);
        expect(r.events.length).toBe(events);
        expect(r.events).not.toContain('complete');
        expect(parser.done).toBe(false);
        expect(parser.reusable).toBe(false);
        expect(() => parser.end()).not.toThrow(); // once failed, quiet
      }
    }
  });

  it('end() before any byte of the answer', () => {
    const parser = new ResponseParser();
    const r = recorder();
    parser.reset(r.sink);
    const err = catchError(() => parser.end());
    expect(err).toBeInstanceOf(UpstreamProtocolError);
    expect((err as Error).message).toBe('the MCP server closed the connection');
    expect(parser.started).toBe(false);
    expect(r.events).toEqual([]);
  });

  it('end() after a complete response is no error', () => {
    const parser = new ResponseParser();
    const r = recorder();
    parser.reset(r.sink);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'));
    expect(() => parser.end()).not.toThrow();
    expect(r.events).toEqual(['head', 'body', 'complete']);
  });
});

describe('halt()', () => {
  it('between reads: nothing more is delivered or consumed, and the connection is not reusable', () => {
    const parser = new ResponseParser();
    const r = recorder();
    parser.reset(r.sink);
    parser.execute(bytes('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc'));
    expect(r.events).toEqual(['head', 'body']);
    parser.halt();
    expect(parser.execute(bytes('def'))).toBe(0);
    expect(() => parser.end()).not.toThrow();
    expect(r.events).toEqual(['head', 'body']);
    expect(parser.done).toBe(false);
    expect(parser.reusable).toBe(false);
  });

  it('from inside head(): no body is delivered, and no completion', () => {
    const parser = new ResponseParser();
    const events: string[] = [];
    parser.reset({
      head: () => {
        events.push('head');
        parser.halt();
      },
      body: () => events.push('body'),
      complete: () => events.push('complete'),
    });
    const raw = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    parser.execute(raw);
    expect(events).toEqual(['head']);
    expect(parser.reusable).toBe(false);
  });

  it('from inside body(): the rest of the same read is not delivered, nor the completion', () => {
    const parser = new ResponseParser();
    const events: string[] = [];
    parser.reset({
      head: () => events.push('head'),
      body: (chunk) => {
        events.push(`body:${chunk.toString()}`);
        parser.halt();
      },
      complete: () => events.push('complete'),
    });
    parser.execute(
      bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n2\r\nzz\r\n0\r\n\r\n'),
    );
    expect(events).toEqual(['head', 'body:ok']);
  });

  // halt() must stick: the rest of the same read may not complete the response or move on.
  it('from inside body(): the parser stays halted — not done, not reusable, nothing more consumed', () => {
    for (const raw of [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    ]) {
      const parser = new ResponseParser();
      parser.reset({ head: () => {}, body: () => parser.halt(), complete: () => {} });
      const input = bytes(raw);
      const consumed = parser.execute(input);
      expect(parser.done).toBe(false);
      expect(parser.reusable).toBe(false);
      expect(consumed).toBe(raw.indexOf('ok') + 2);
    }
  });

  it('from inside head() of a 204 (the head is the whole response): not done, not reusable', () => {
    const parser = new ResponseParser();
    const events: string[] = [];
    parser.reset({
      head: () => parser.halt(),
      body: () => events.push('body'),
      complete: () => events.push('complete'),
    });
    parser.execute(bytes('HTTP/1.1 204 No Content\r\n\r\n'));
    expect(events).toEqual([]);
    expect(parser.done).toBe(false);
    expect(parser.reusable).toBe(false);
  });
});
