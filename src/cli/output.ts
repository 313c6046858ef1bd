/**
 * Terminal output: ✓ / ✗ / ! marks (coloured only on a terminal, never with NO_COLOR), relative
 * times ("expires in 42 min"), and columns. Results go to stdout; progress, warnings and errors
 * to stderr, so `portcullis status --json | jq` always reads clean JSON.
 */
export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export interface Style {
  ok(text: string): string;
  fail(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function createStyle(stream: TextStream, env: NodeJS.ProcessEnv): Style {
  const color = Boolean(stream.isTTY) && !env['NO_COLOR'] && env['TERM'] !== 'dumb';
  const sgr = (open: number, close: number) => (text: string) =>
    color ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  const green = sgr(32, 39);
  const red = sgr(31, 39);
  const yellow = sgr(33, 39);
  return {
    ok: (text) => `${green('✓')} ${text}`,
    fail: (text) => `${red('✗')} ${text}`,
    warn: (text) => `${yellow('!')} ${text}`,
    dim: sgr(2, 22),
    bold: sgr(1, 22),
  };
}

/** A short duration: "30 s", "42 min", "3 h 5 min", "2 days". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

/** "expires in 42 min" / "expired 3 min ago" / "never expires". */
export function describeExpiry(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'no expiry given';
  const left = expiresAt - now;
  return left > 0 ? `expires in ${formatDuration(left)}` : `expired ${formatDuration(left)} ago`;
}

/** "5 min ago" */
export function describeAgo(at: number, now: number): string {
  return `${formatDuration(now - at)} ago`;
}

/** Two columns, the first padded to its widest cell; the second cut to the terminal width. */
export function columns(rows: Array<[string, string]>, width: number | undefined): string[] {
  const first = Math.min(Math.max(0, ...rows.map(([a]) => a.length)), 40);
  return rows.map(([a, b]) => {
    const left = a.length > first ? a : a.padEnd(first);
    const line = b ? `${left}  ${b}` : a;
    return width && line.length > width ? `${line.slice(0, Math.max(width - 1, first))}…` : line;
  });
}
