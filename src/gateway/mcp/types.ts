import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The seam between the gateway's authorization server and its MCP side.
 *
 * The authorization side authenticates the bearer token on every request to the MCP path
 * (MCP §Token Handling: expiry and audience checked, query-string tokens ignored) and only then
 * calls `McpEndpoint.handle` with the verified principal. The MCP side never sees the client's
 * own token (MCP §Access Token Privilege Restriction): it gets the user's upstream token through
 * `upstreamAccessToken()`, which the gateway keeps fresh.
 */

/** Who is calling, as established from a verified gateway access token. */
export interface McpPrincipal {
  /** Stable user id at the gateway (derived from the upstream IdP subject). */
  userId: string;
  /** The OAuth client the token was issued to. */
  clientId: string;
  /** Scopes granted to this token. */
  scopes: string[];
  /** The token's audience: the canonical MCP URL (RFC 8707). */
  resource: string;
  /** Identity claims from the upstream IdP (e.g. `sub`, `email`, `name`); never tokens. */
  claims: Record<string, unknown>;
  /** The user's upstream IdP access token, refreshed before expiry; undefined when there is none. */
  upstreamAccessToken(): Promise<string | undefined>;
}

/** The MCP side of the gateway: a reverse proxy to an HTTP upstream, or stdio children per session. */
export interface McpEndpoint {
  /** Serves one already-authorized request to the MCP path (POST, GET stream, DELETE). */
  handle(request: Request, principal: McpPrincipal): Promise<Response>;
  /**
   * Optional node:http fast path for the same request, when the gateway runs on node:http: it
   * skips the Request/Response conversion (the proxy leg is CPU-bound on a small VM). The endpoint
   * reads `req` and owns `res` from the call on. It rejects (e.g. with an `OAuthError`, for the
   * gateway's renderer) only before it has written anything to `res`.
   */
  handleNode?(req: IncomingMessage, res: ServerResponse, principal: McpPrincipal): Promise<void>;
  /** Drains streams and reaps children. */
  close(): Promise<void>;
}
