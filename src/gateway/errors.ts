/**
 * The ONE place errors leave the gateway. Every endpoint throws `OAuthError` (or lets an
 * unexpected error escape); `renderError` turns it into the response its surface calls for:
 * - `json`: RFC 6749 §5.2 body, `Cache-Control: no-store` (token, register, revoke, introspect)
 * - `bearer`: RFC 6750 §3 challenge on the MCP endpoint with RFC 9728 §5.1 `resource_metadata`
 * - `page`: an HTML page, never a redirect (OAuth 2.1 §4.1.2.1: bad client or redirect URI)
 * - `redirect`: back to the client's redirect URI with `error`, `state` and RFC 9207 `iss`
 */

import type { Logger } from '../logger.js';
import { OAuthError, type OAuthErrorOptions } from '../oauth/errors.js';
import { formatChallenge } from '../oauth/www-authenticate.js';
import { StoreError } from '../store/store.js';
import { errorPage } from './pages/error.js';
import { pageResponse } from './pages/layout.js';

/** An OAuthError that also carries response headers (`Retry-After`, `WWW-Authenticate: Basic`). */
export class GatewayError extends OAuthError {
  readonly headers: Record<string, string>;
  constructor(
    error: string,
    description?: string,
    options: OAuthErrorOptions & { headers?: Record<string, string> } = {},
  ) {
    super(error, description, options);
    this.headers = options.headers ?? {};
  }
}

export type ErrorSurface =
  | { kind: 'json'; headers?: Record<string, string> }
  | {
      kind: 'bearer';
      resourceMetadata: string;
      scope: string;
      /** The request carried no token at all: RFC 6750 §3.1 says send no `error` then. */
      noCredentials?: boolean;
      headers?: Record<string, string>;
    }
  | { kind: 'page' }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; issuer: string };

export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/**
 * A small JSON answer as plain data, for the Node server's fast path (no fetch `Response`, no
 * web stream); `toResponse` makes the same answer a `Response` for the fetch-style handler.
 */
export interface PlainResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A JSON body with `Cache-Control: no-store` (OAuth 2.1 §3.2.3), as plain data. */
export function plainJson(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): PlainResponse {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...NO_STORE, ...headers },
    body: JSON.stringify(value),
  };
}

export function toResponse(plain: PlainResponse): Response {
  return new Response(plain.body, { status: plain.status, headers: plain.headers });
}

/** The `json` surface of `renderError` as plain data. */
export function plainJsonError(
  error: unknown,
  headers: Record<string, string> = {},
  logger?: Logger,
): PlainResponse {
  const err = toOAuthError(error, logger);
  const own = err instanceof GatewayError ? err.headers : {};
  return plainJson(err.status, err.toJSON(), { ...own, ...headers });
}

/** Unknown errors become `server_error` (logged, never shown); a store outage is a 503. */
export function toOAuthError(error: unknown, logger?: Logger): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error instanceof StoreError) {
    logger?.error({ err: error, code: error.code }, 'store failure');
    return new OAuthError('temporarily_unavailable', 'storage is unavailable, try again', { status: 503 });
  }
  logger?.error({ err: error }, 'unexpected error');
  return new OAuthError('server_error', 'internal error', { status: 500 });
}

export function renderError(error: unknown, surface: ErrorSurface, logger?: Logger): Response {
  const err = toOAuthError(error, logger);
  const own = err instanceof GatewayError ? err.headers : {};
  switch (surface.kind) {
    case 'json':
      return toResponse(plainJsonError(err, surface.headers));
    case 'bearer': {
      // RFC 6750 §3.1: no `error` without credentials; MCP §Error Handling: 401, 403 for scope, 400 malformed.
      const noCredentials = surface.noCredentials === true;
      const status = err.error === 'insufficient_scope' ? 403 : err.error === 'invalid_request' ? 400 : 401;
      const challenge = formatChallenge('Bearer', {
        resource_metadata: surface.resourceMetadata, // RFC 9728 §5.1
        scope: err.extra['scope'] ?? surface.scope,
        error: noCredentials ? undefined : err.error,
        error_description: noCredentials ? undefined : err.description,
      });
      return Response.json(err.toJSON(), {
        status,
        headers: { ...NO_STORE, 'WWW-Authenticate': challenge, ...own, ...surface.headers },
      });
    }
    case 'page':
      // A page has no authentication scheme to challenge with: an unknown client is a 400 here.
      return pageResponse(errorPage(err.error, err.description), {
        status: err.status === 401 ? 400 : err.status,
        headers: own,
      });
    case 'redirect': {
      // RFC 6749 §4.1.2.1 error response, plus RFC 9207 §2 `iss` on errors too.
      const url = new URL(surface.redirectUri);
      url.searchParams.set('error', err.error);
      if (err.description) url.searchParams.set('error_description', err.description);
      if (surface.state !== undefined) url.searchParams.set('state', surface.state);
      url.searchParams.set('iss', surface.issuer);
      return new Response(null, { status: 302, headers: { ...NO_STORE, Location: url.href } });
    }
  }
}
