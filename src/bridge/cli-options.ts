/**
 * The options of `portcullis connect <url>`, as one plain function over a commander-style object
 * (camelCase keys, repeatable flags as arrays), so the CLI stays a thin layer and the rules are
 * tested here. Flag names follow mcp-remote where it is sensible; its spellings are accepted too.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HTTP_TOKEN } from '../http-syntax.js';
import type { TransportStrategy } from '../transport/client-transport.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ConnectOptions {
  url: URL;
  /** `--header K:V`, repeatable; `${VAR}` in a value is taken from the environment. */
  headers: Record<string, string>;
  allowHttp: boolean;
  transport: TransportStrategy;
  /** Loopback callback port for the browser login (`--port`, `--callback-port`, or mcp-remote's 2nd positional). */
  callbackPort: number | undefined;
  /** RFC 8707 `resource`: a URL overriding the default, `false` to omit it (`--no-resource`), or the default. */
  resource: string | false | undefined;
  scope: string | undefined;
  logFile: string | undefined;
  logLevel: LogLevel;
  clientId: string | undefined;
  clientSecret: string | undefined;
  clientMetadataUrl: string | undefined;
  grant: 'authorization_code' | 'client_credentials';
  /** How long to wait for the browser login. */
  authTimeoutMs: number | undefined;
  /** false: print the authorization URL instead of opening a browser (`--no-browser`). */
  browser: boolean;
  maxMessageBytes: number | undefined;
}

export class ConnectOptionsError extends Error {
  override readonly name = 'ConnectOptionsError';
  readonly code = 'invalid_option';
}

/** Flags for the CLI to register: [flags, description]. Values arrive under commander's camelCase keys. */
export const CONNECT_FLAGS: ReadonlyArray<readonly [string, string]> = [
  [
    '--header <name:value>',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${VAR} syntax is what the help shows
    'add a header to every request to the server (repeatable); ${VAR} reads the environment',
  ],
  [
    '--header-file <path>',
    'headers from a file, one "Name: value" per line (keeps secrets out of the process list)',
  ],
  ['--allow-http', 'allow cleartext http to a host that is not loopback'],
  ['--transport <strategy>', 'http-first (default: Streamable HTTP, else HTTP+SSE), http-only, sse-only'],
  ['--port <port>', 'loopback port for the login callback'],
  ['--callback-port <port>', 'the same as --port'],
  ['--resource <url>', 'the RFC 8707 resource to ask tokens for (default: the server URL)'],
  ['--no-resource', 'omit the RFC 8707 resource parameter (for IdPs that reject it)'],
  ['--scope <scopes>', 'scopes to ask for (space-separated)'],
  ['--client-id <id>', 'a pre-registered OAuth client id'],
  ['--client-secret <secret>', 'its secret (needs --client-id)'],
  ['--client-metadata-url <url>', 'a Client ID Metadata Document URL to use as client_id'],
  ['--grant <grant>', 'authorization_code (default) or client_credentials'],
  ['--auth-timeout <seconds>', 'how long to wait for the browser login (default 300)'],
  ['--no-browser', 'print the login URL instead of opening a browser'],
  ['--log-file <path>', 'write logs to this file instead of stderr'],
  ['--log-level <level>', 'trace, debug, info, warn (default), error, fatal or silent'],
  ['--max-message-bytes <n>', 'largest message accepted in either direction (default 32 MiB)'],
];

/** mcp-remote's spellings, accepted for migration; register them hidden. Same camelCase keys. */
export const CONNECT_COMPAT_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['--debug', 'mcp-remote: --log-level debug'],
  ['--silent', 'mcp-remote: --log-level silent'],
  ['--enable-proxy', 'mcp-remote: proxies from the environment are always honoured'],
  ['--disable-resource-parameter', 'mcp-remote: --no-resource'],
  ['--static-oauth-client-info <json|@file>', 'mcp-remote: {"client_id", "client_secret"}'],
  ['--client-credentials', 'mcp-remote: --grant client_credentials'],
];

const TRANSPORTS = ['http-first', 'http-only', 'sse-only'] as const;
const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
// RFC 9110 §5.6.2 token.
// Headers the transport owns (MCP §Transports, RFC 9110 framing); a user value would corrupt the exchange.
const RESERVED = new Set([
  'host',
  'content-length',
  'content-type',
  'accept',
  'connection',
  'transfer-encoding',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);

/**
 * Validates and normalises the options. `input` is commander's `opts()` plus `url` (and optionally
 * `callbackPort` from a second positional). Throws `ConnectOptionsError` with a message for the user.
 */
export function parseConnectOptions(
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ConnectOptions {
  const url = parseUrl(input['url']);
  const headerFile = str(input['headerFile']);
  // mcp-remote's --header-file: credentials kept out of the process list; one `Name: value` per line.
  const fromFile = headerFile === undefined ? [] : readLines(headerFile, '--header-file');
  const headers = parseHeaders([...fromFile, ...list(input['header'])], env);

  const transport = str(input['transport']) ?? 'http-first';
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    const hint = transport === 'sse-first' ? " (mcp-remote's sse-first: use sse-only, or http-first)" : '';
    fail(`--transport must be one of ${TRANSPORTS.join(', ')}, not "${transport}"${hint}`);
  }

  const portText = str(input['callbackPort']) ?? str(input['port']);
  const callbackPort = portText === undefined ? undefined : parsePort(portText);

  // commander turns --no-resource into resource: false; mcp-remote spells it --disable-resource-parameter.
  let resource: string | false | undefined = input['resource'] === false ? false : str(input['resource']);
  if (input['disableResourceParameter'] === true || input['noResource'] === true) resource = false;
  if (resource === '') resource = false; // `--resource ""` is how mcp-remote users switched it off
  if (typeof resource === 'string') parseUrl(resource, '--resource');

  let logLevel = (str(input['logLevel']) ?? 'warn') as LogLevel;
  if (input['debug'] === true) logLevel = 'debug';
  if (input['silent'] === true) logLevel = 'silent';
  if (!LEVELS.includes(logLevel)) fail(`--log-level must be one of ${LEVELS.join(', ')}`);

  let clientId = str(input['clientId']);
  let clientSecret = str(input['clientSecret']);
  const info = str(input['staticOauthClientInfo']);
  if (info !== undefined)
    ({ clientId, clientSecret } = staticClientInfo(
      expand(info, env, '--static-oauth-client-info'),
      clientId,
      clientSecret,
    ));
  const clientMetadataUrl = str(input['clientMetadataUrl']);
  if (
    clientMetadataUrl !== undefined &&
    parseUrl(clientMetadataUrl, '--client-metadata-url').protocol !== 'https:'
  ) {
    fail('--client-metadata-url must be an https URL (CIMD §3)');
  }
  if (clientSecret !== undefined && clientId === undefined) fail('--client-secret needs --client-id');

  const grant =
    str(input['grant']) ??
    (input['clientCredentials'] === true ? 'client_credentials' : 'authorization_code');
  if (grant !== 'authorization_code' && grant !== 'client_credentials') {
    fail('--grant must be authorization_code or client_credentials');
  }
  if (grant === 'client_credentials' && (clientId === undefined || clientSecret === undefined)) {
    fail('--grant client_credentials needs --client-id and --client-secret');
  }

  const timeout = str(input['authTimeout']);
  const authTimeoutSeconds = timeout === undefined ? undefined : Number(timeout);
  if (authTimeoutSeconds !== undefined && !(Number.isFinite(authTimeoutSeconds) && authTimeoutSeconds > 0)) {
    fail('--auth-timeout must be a positive number of seconds');
  }
  const max = str(input['maxMessageBytes']);
  const maxMessageBytes = max === undefined ? undefined : Number(max);
  if (maxMessageBytes !== undefined && !(Number.isInteger(maxMessageBytes) && maxMessageBytes >= 1024)) {
    fail('--max-message-bytes must be an integer of at least 1024');
  }

  return {
    url,
    headers,
    allowHttp: input['allowHttp'] === true,
    transport: transport as TransportStrategy,
    callbackPort,
    resource,
    scope: str(input['scope']),
    logFile: str(input['logFile']),
    logLevel,
    clientId,
    clientSecret,
    clientMetadataUrl,
    grant,
    authTimeoutMs: authTimeoutSeconds === undefined ? undefined : Math.round(authTimeoutSeconds * 1000),
    browser: input['browser'] !== false,
    maxMessageBytes,
  };
}

const ARGV_OPTIONS = {
  header: { type: 'string', multiple: true },
  'header-file': { type: 'string' },
  'client-credentials': { type: 'boolean' },
  'allow-http': { type: 'boolean' },
  transport: { type: 'string' },
  port: { type: 'string' },
  'callback-port': { type: 'string' },
  resource: { type: 'string' },
  'no-resource': { type: 'boolean' },
  'disable-resource-parameter': { type: 'boolean' },
  scope: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-metadata-url': { type: 'string' },
  'static-oauth-client-info': { type: 'string' },
  grant: { type: 'string' },
  'auth-timeout': { type: 'string' },
  'no-browser': { type: 'boolean' },
  'log-file': { type: 'string' },
  'log-level': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  debug: { type: 'boolean' },
  silent: { type: 'boolean' },
  'enable-proxy': { type: 'boolean' }, // mcp-remote: proxies from the environment are always honoured here
} as const;

function parseArgv(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: ARGV_OPTIONS });
  } catch (error) {
    throw new ConnectOptionsError((error as Error).message);
  }
}

/**
 * `portcullis connect <url> [callbackPort] [flags]` from raw argv, without commander: the object
 * `parseConnectOptions` takes. Also accepts mcp-remote's spellings (`--debug`, `--silent`,
 * `--enable-proxy`, `--disable-resource-parameter`, `--static-oauth-client-info`).
 */
export function connectArgvToInput(argv: string[]): Record<string, unknown> {
  const { values, positionals } = parseArgv(argv);
  const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) out[camel(k)] = v;
  if (out['noBrowser'] === true) out['browser'] = false;
  out['url'] = positionals[0];
  if (positionals[1] !== undefined && out['callbackPort'] === undefined) out['callbackPort'] = positionals[1];
  if (positionals.length > 2) fail(`unexpected argument: ${positionals[2]}`);
  return out;
}

function parseHeaders(items: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const item of items) {
    const colon = item.indexOf(':');
    if (colon <= 0) fail(`--header must look like "Name: value", not "${item}"`);
    const name = item.slice(0, colon).trim();
    // `Name:${VAR}` without spaces survives hosts that split args on spaces (Cursor, Claude Desktop on Windows).
    const value = expand(item.slice(colon + 1).trim(), env, `--header ${name}`);
    if (!HTTP_TOKEN.test(name)) fail(`--header name "${name}" is not a valid HTTP header name`);
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith('mcp-param-'))
      fail(`--header cannot set ${name}: the transport owns it`);
    // RFC 9110 §5.5: no CR, LF or NUL in a field value (header injection).
    if (/[\r\n\0]/.test(value)) fail(`--header ${name} has a line break or NUL in its value`);
    headers[name] = value;
  }
  return headers;
}

/** `${NAME}` from the environment; an unset variable is an error rather than an empty string. */
function expand(text: string, env: NodeJS.ProcessEnv, what: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v: string) => {
    const found = env[v];
    if (found === undefined) fail(`${what} uses \${${v}}, which is not set in the environment`);
    return found;
  });
}

function readLines(path: string, what: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  } catch (cause) {
    throw new ConnectOptionsError(`${what}: cannot read ${path}: ${(cause as Error).message}`);
  }
}

function staticClientInfo(arg: string, id: string | undefined, secret: string | undefined) {
  let json: unknown;
  try {
    json = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
  } catch (cause) {
    throw new ConnectOptionsError(
      `--static-oauth-client-info is not valid JSON: ${(cause as Error).message}`,
    );
  }
  const o = (json ?? {}) as { client_id?: unknown; client_secret?: unknown };
  return {
    clientId: id ?? (typeof o.client_id === 'string' ? o.client_id : undefined),
    clientSecret: secret ?? (typeof o.client_secret === 'string' ? o.client_secret : undefined),
  };
}

function parseUrl(value: unknown, what = 'the server URL'): URL {
  if (typeof value !== 'string' || value === '') fail(`${what} is required`);
  try {
    const url = new URL(value as string);
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      fail(`${what} must be http(s), not ${url.protocol}`);
    return url;
  } catch (error) {
    if (error instanceof ConnectOptionsError) throw error;
    return fail(`${what} is not a valid URL: ${String(value)}`);
  }
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`the callback port must be 1–65535, not "${text}"`);
  return n;
}

function list(v: unknown): string[] {
  if (v === undefined || v === null || v === false) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === false || v === true) return undefined;
  return String(v);
}

function fail(message: string): never {
  throw new ConnectOptionsError(message);
}
