/**
 * Every failure of a CLI command is rendered here, and only here: what happened, what to do
 * next, and the documented exit code (docs/cli.md). Nothing rendered ever holds a secret: known
 * secrets of the run are masked, and bearer values, codes and tokens in URLs are scrubbed.
 */
import { type ClientErrorCode, isClientError } from '../client/errors.js';
import { OAuthError } from '../oauth/errors.js';
import { StoreError } from '../store/store.js';
import { isTransportError, McpRequestError } from '../transport/errors.js';

/** The documented exit codes; scripts may rely on them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  authorization: 3,
  unreachable: 4,
  toolError: 5,
  aborted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type CliErrorCode =
  | 'usage' // a bad flag, argument or value on the command line
  | 'config_invalid' // the config file or an environment variable is wrong
  | 'not_logged_in' // nothing stored for the server
  | 'tool_error' // the tool answered with isError
  | 'aborted'; // Ctrl-C

/** A failure the CLI itself detects; `hint` says what to do next. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  readonly hint: string | undefined;
  constructor(code: CliErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

export interface RenderedError {
  message: string;
  hint?: string;
  exitCode: ExitCode;
}

export interface RenderContext {
  /** The server the command was about, for hints such as `portcullis login <url>`. */
  serverUrl?: string | undefined;
  /** Values that must never be printed (client secrets, header values…). */
  secrets?: Iterable<string>;
}

const CLI_EXIT: Record<CliErrorCode, ExitCode> = {
  usage: ExitCode.usage,
  config_invalid: ExitCode.usage,
  not_logged_in: ExitCode.authorization,
  tool_error: ExitCode.toolError,
  aborted: ExitCode.aborted,
};

/** Turns any thrown value into what the user sees and the process's exit code. */
export function renderError(error: unknown, ctx: RenderContext = {}): RenderedError {
  const rendered = classify(error, ctx.serverUrl ?? '<url>');
  const scrub = (text: string) => scrubSecrets(text, ctx.secrets ?? []);
  return {
    message: scrub(rendered.message),
    ...(rendered.hint ? { hint: scrub(rendered.hint) } : {}),
    exitCode: rendered.exitCode,
  };
}

function classify(error: unknown, url: string): RenderedError {
  if (error instanceof CliError) return withHint(error.message, error.hint, CLI_EXIT[error.code]);
  if (isAbort(error)) return { message: 'cancelled', exitCode: ExitCode.aborted };
  if (isZodError(error)) {
    return withHint(`invalid input: ${zodSummary(error)}`, undefined, ExitCode.usage);
  }
  // The client core's errors reach us wrapped by the transport (a failed fetch's cause): unwrap.
  const specific = findCause(
    error,
    (e) => isClientError(e) || e instanceof OAuthError || e instanceof StoreError,
  );
  if (isClientError(specific))
    return clientError(specific.code, specific.message, url, isNetworkFailure(specific));
  if (specific instanceof StoreError) return storeError(specific);
  if (specific instanceof OAuthError) return oauthError(specific, url);
  if (error instanceof McpRequestError) return mcpError(error, url);
  if (isTransportError(error)) {
    if (error.code === 'network' || (error.status !== undefined && error.status >= 500))
      return unreachable(`${error.message}${causeDetail(error)}`, url);
    // The auth-aware fetch already refreshed or re-authorized once: the server still refuses.
    if (error.status === 401 || error.status === 403)
      return withHint(error.message, LOGIN_HINT(url), ExitCode.authorization);
    const hint =
      error.code === 'not_streamable_http' || error.status === 404
        ? `check the URL; run: portcullis doctor ${url}`
        : undefined;
    return withHint(error.message, hint, ExitCode.failure);
  }
  if (isNetworkFailure(error)) return unreachable(`could not reach the server${causeDetail(error)}`, url);
  const message = error instanceof Error ? error.message : String(error);
  return { message: message || 'unexpected failure', exitCode: ExitCode.failure };
}

function withHint(message: string, hint: string | undefined, exitCode: ExitCode): RenderedError {
  return hint ? { message, hint, exitCode } : { message, exitCode };
}

function unreachable(message: string, url: string): RenderedError {
  return withHint(
    message,
    `check the URL, your network and that the server is running; run: portcullis doctor ${url}`,
    ExitCode.unreachable,
  );
}

const LOGIN_HINT = (url: string) => `run: portcullis login ${url}`;

function clientError(code: ClientErrorCode, message: string, url: string, network: boolean): RenderedError {
  if (network && code !== 'aborted') return unreachable(message, url);
  // The core's messages often already say what to run; don't say it twice.
  const hint = (text: string) => (message.includes('portcullis login') ? undefined : text);
  switch (code) {
    case 'reauth_required':
    case 'authorization_required':
      return withHint(message, hint(LOGIN_HINT(url)), ExitCode.authorization);
    case 'authorization_failed':
    case 'token_request_failed':
      return withHint(message, hint(`try again: portcullis login ${url}`), ExitCode.authorization);
    case 'callback_timeout':
      return withHint(
        message,
        `run portcullis login ${url} again; without a browser on this machine add --no-browser and paste the redirect URL`,
        ExitCode.authorization,
      );
    case 'callback_port_in_use':
      return withHint(
        message,
        'pass --port N with a free port (or set callbackPort in the config), or free the port',
        ExitCode.usage,
      );
    case 'insecure_url':
      return withHint(
        message,
        'use an https URL (http is allowed only on 127.0.0.1/localhost)',
        ExitCode.usage,
      );
    case 'discovery_failed':
      return withHint(message, `run: portcullis doctor ${url}`, ExitCode.failure);
    case 'unsupported_authorization_server':
      return withHint(message, 'ask the server operator to enable PKCE with S256', ExitCode.failure);
    case 'registration_failed':
      return withHint(
        message,
        hint(
          'register a client with the authorization server and pass --client-id (and --client-secret), or --client-metadata-url',
        ),
        ExitCode.failure,
      );
    case 'aborted':
      return { message, exitCode: ExitCode.aborted };
    case 'store_unavailable':
      return withHint(
        message,
        'check that PORTCULLIS_HOME (or --home) is a directory you can write, and PORTCULLIS_KEY if set',
        ExitCode.failure,
      );
    default:
      // Codes of the host-app flows (unknown_server, state_*…), which the CLI does not use.
      return { message, exitCode: ExitCode.failure };
  }
}

function oauthError(error: OAuthError, url: string): RenderedError {
  switch (error.error) {
    case 'temporarily_unavailable':
      return unreachable(`${error.description ?? error.message}${causeDetail(error)}`, url);
    case 'invalid_grant':
    case 'invalid_token':
    case 'invalid_client':
    case 'unauthorized_client':
    case 'access_denied':
      return withHint(
        `the authorization server refused: ${error.message}`,
        LOGIN_HINT(url),
        ExitCode.authorization,
      );
    case 'invalid_request':
      return withHint(error.description ?? error.message, `run: portcullis doctor ${url}`, ExitCode.failure);
    default:
      return withHint(
        `the authorization server answered: ${error.message}`,
        `run: portcullis doctor ${url}`,
        ExitCode.failure,
      );
  }
}

function storeError(error: StoreError): RenderedError {
  switch (error.code) {
    case 'decrypt_failed':
      return withHint(
        `the stored credentials cannot be decrypted: ${error.message}`,
        'set PORTCULLIS_KEY to the key they were written with, or run portcullis logout --all and log in again',
        ExitCode.failure,
      );
    case 'lock_timeout':
      return withHint(
        error.message,
        'another portcullis process is logging in or refreshing; wait for it, then try again',
        ExitCode.failure,
      );
    default:
      return withHint(
        `cannot use the state directory: ${error.message}`,
        'check that PORTCULLIS_HOME (or --home) is a directory you can write, and PORTCULLIS_KEY if set',
        ExitCode.failure,
      );
  }
}

function mcpError(error: McpRequestError, url: string): RenderedError {
  if (error.code === 'timeout') return unreachable(`the server did not answer: ${error.message}`, url);
  if (error.code === 'aborted') return { message: 'cancelled', exitCode: ExitCode.aborted };
  if (error.code === 'unsupported_protocol_version')
    return { message: error.message, exitCode: ExitCode.failure };
  // JSON-RPC 2.0 §5.1: -32602 invalid params (e.g. an unknown tool or wrong arguments).
  const hint =
    error.code === -32602 ? `list the tools and their arguments: portcullis tools ${url}` : undefined;
  return withHint(`the server answered: ${error.message}`, hint, ExitCode.failure);
}

function isAbort(error: unknown): boolean {
  return (
    (error instanceof DOMException || error instanceof Error) &&
    error.name === 'AbortError' &&
    !isClientError(error)
  );
}

interface ZodLike {
  name: string;
  issues: Array<{ path: PropertyKey[]; message: string }>;
}

function isZodError(error: unknown): error is ZodLike {
  return (
    error instanceof Error && error.name === 'ZodError' && Array.isArray((error as Partial<ZodLike>).issues)
  );
}

function zodSummary(error: ZodLike): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** The first error in the `cause` chain (the error itself included) that `match` accepts. */
export function findCause(error: unknown, match: (e: unknown) => boolean): unknown {
  for (let e = error, depth = 0; e !== undefined && depth < 10; depth++) {
    if (match(e)) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** A DNS, TCP or TLS failure (or a deadline) somewhere in the cause chain. */
export function isNetworkFailure(error: unknown): boolean {
  return (
    findCause(error, (e) => {
      if (isTransportError(e, 'network')) return true;
      if (e instanceof OAuthError && e.error === 'temporarily_unavailable') return true;
      const code = (e as { code?: unknown } | undefined)?.code;
      if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
      return e instanceof TypeError && e.message === 'fetch failed';
    }) !== undefined
  );
}

/** ` (connect ECONNREFUSED 127.0.0.1:1)`: the innermost cause, which names the socket error. */
function causeDetail(error: unknown): string {
  let inner: unknown = error;
  for (let depth = 0; inner instanceof Error && inner.cause instanceof Error && depth < 10; depth++)
    inner = inner.cause;
  return inner !== error && inner instanceof Error && inner.message ? ` (${inner.message})` : '';
}

/**
 * Masks known secrets, and what looks like a credential: `Bearer …`/`Basic …` values and the
 * values of `code`, `access_token`, `refresh_token`, `client_secret`… in URLs and forms.
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out
    .replace(/\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9\-._~+/]+=*/gi, '$1 [redacted]')
    .replace(
      /\b(code|code_verifier|access_token|refresh_token|id_token|client_secret|assertion|subject_token)=[^&\s"']+/gi,
      '$1=[redacted]',
    );
}
