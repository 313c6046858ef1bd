/**
 * The CLI's logger: pino, written synchronously to stderr (fd 2) so nothing is lost on exit and
 * stdout stays the command's own (for `connect`, JSON-RPC alone). JSON lines, or a compact
 * human line when stderr is a terminal. Tokens, codes, verifiers, secrets and Authorization
 * headers are redacted before anything is written.
 */
import { writeSync } from 'node:fs';
import type pino from 'pino';
import type { Logger } from '../logger.js';
import { CliError } from './errors.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

const SECRET_FIELDS = [
  'authorization',
  'accessToken',
  'refreshToken',
  'idToken',
  'access_token',
  'refresh_token',
  'id_token',
  'clientSecret',
  'client_secret',
  'codeVerifier',
  'code_verifier',
  'assertion',
  'subject_token',
  'password',
  'cookie',
  'token',
];

/** pino `redact` paths: each secret field at the top level and one level down, plus headers. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
  // An authorization code is one level down (`{ params: { code } }`); a top-level `code` is an error code.
  '*.code',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'headers["proxy-authorization"]',
  '*.headers["proxy-authorization"]',
  'headers.dpop',
  '*.headers.dpop',
];

export function parseLogLevel(value: string | undefined, source: string): LogLevel | undefined {
  if (value === undefined || value === '') return undefined;
  const level = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new CliError('usage', `${source} must be one of ${LOG_LEVELS.join(', ')} (got "${value}")`);
}

export interface CliLoggerOptions {
  level: LogLevel;
  /** Human lines instead of JSON (default: when fd 2 is a terminal). */
  pretty?: boolean;
  /** Where lines go; default a synchronous write to fd 2. Tests pass their own. */
  write?: (line: string) => void;
}

/** pino is loaded when a command runs, not at start-up (`--help` does without it). */
export async function createCliLogger(opts: CliLoggerOptions): Promise<Logger & pino.Logger> {
  const { default: pino } = await import('pino');
  const write = opts.write ?? ((line: string) => writeSync(2, line));
  const pretty = opts.pretty ?? false;
  const destination: pino.DestinationStream = {
    write: (line: string) => write(pretty ? humanLine(line) : line),
  };
  return pino(
    {
      level: opts.level,
      base: { name: 'portcullis' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** `portcullis warn: message key=value …` from one pino JSON line (already redacted). */
function humanLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, msg, time: _time, name: _name, pid: _pid, hostname: _hostname, ...fields } = record;
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${fieldText(value)}`);
  const label = LEVEL_NAMES[Number(level)] ?? String(level);
  return `portcullis ${label}: ${String(msg ?? '')}${parts.length ? ` ${parts.join(' ')}` : ''}\n`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string')
    return JSON.stringify(value.message); // a serialized error: its message, not the stack
  return JSON.stringify(value);
}
