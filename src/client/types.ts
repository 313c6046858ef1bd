/**
 * The client core's public seams. `createAuthFetch` (src/client/auth-fetch.ts) returns an
 * `AuthFetch`: a `fetch` for one MCP server that carries OAuth (bearer, discovery, registration,
 * authorization, refresh, step-up) and can be handed to any transport.
 */
export interface AuthFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * Makes sure a usable access token exists (stored, refreshed, or by logging in now),
   * without sending anything to the MCP server beyond an unauthenticated probe when needed.
   */
  authorize(opts?: { signal?: AbortSignal }): Promise<void>;
  /** `authorization_required`, `authorized`, `token_refreshed`, `reauth_required`, … as CustomEvents. */
  readonly events: EventTarget;
}

/** How a person is asked to log in: loopback + browser, headless paste, web begin/complete, or none. */
export interface Interaction {
  /**
   * The redirect URI to register and send; may start a listener (loopback). `port` is the one
   * that worked last time for this server, tried first so the registration stays valid.
   */
  redirectUri(hint?: { port?: number }): Promise<string>;
  /** Shows the authorization URL to the user; resolves to the callback URL the AS redirected to. */
  authorize(url: URL, signal: AbortSignal): Promise<URL>;
  /** Releases whatever `redirectUri()` acquired (a loopback listener). */
  close?(): Promise<void>;
}
