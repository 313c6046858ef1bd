import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../src/gateway/mcp/ndjson.js';

function collect(max: number) {
  const lines: string[] = [];
  const overflows: number[] = [];
  const splitter = new LineSplitter(
    max,
    (l) => lines.push(l.toString()),
    (n) => overflows.push(n),
  );
  return { lines, overflows, push: (s: string) => splitter.push(Buffer.from(s)) };
}

describe('newline-delimited framing (MCP transports §stdio)', () => {
  it('splits several messages in one chunk and one message over several chunks', () => {
    const s = collect(1024);
    s.push('{"a":1}\n{"b":2}\n{"c"');
    s.push(':3');
    s.push('}\n');
    expect(s.lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('accepts CRLF and skips empty lines', () => {
    const s = collect(1024);
    s.push('{"a":1}\r\n\n{"b":2}\n');
    expect(s.lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('stops at a line longer than the limit, whether it arrives whole or in pieces', () => {
    const whole = collect(8);
    whole.push('123456789\n{"never":1}\n');
    expect(whole.lines).toEqual([]);
    expect(whole.overflows).toEqual([9]);

    const pieces = collect(8);
    pieces.push('12345');
    pieces.push('6789');
    pieces.push('\n{"never":1}\n');
    expect(pieces.overflows).toEqual([9]);
    expect(pieces.lines).toEqual([]);
  });
});
