/**
 * Newline-delimited framing for the stdio transport (MCP transports §stdio: messages are
 * delimited by newlines and contain none). Lines are bounded: a child that writes a longer line
 * is broken or hostile, and the session is closed rather than buffering without end.
 */

/** Default stdout line limit: 16 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOverflow: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      let line = chunk.subarray(start, nl);
      if (this.size > 0) {
        this.parts.push(line);
        line = Buffer.concat(this.parts, this.size + line.length);
        this.parts = [];
        this.size = 0;
      }
      if (line.length > this.maxLineBytes) {
        this.overflow(line.length);
        return;
      }
      if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, -1); // CRLF
      if (line.length > 0) this.onLine(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.size += chunk.length - start;
      if (this.size > this.maxLineBytes) {
        this.overflow(this.size);
        return;
      }
      this.parts.push(chunk.subarray(start));
    }
  }

  private overflow(bytes: number): void {
    this.overflowed = true;
    this.parts = [];
    this.size = 0;
    this.onOverflow(bytes);
  }
}
