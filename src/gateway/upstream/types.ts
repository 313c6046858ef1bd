/**
 * Federation: the gateway logs users in at an upstream identity provider through this one
 * interface (OIDC by issuer URL, or the built-in dev login). The provider never sees an MCP
 * client and the client never sees the provider's tokens.
 */
export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms; absent when the IdP did not say. */
  expiresAt?: number;
  scope?: string;
}

export interface UpstreamIdentity {
  /** Stable user identifier at the IdP (the ID token `sub`, or the configured claim). */
  subject: string;
  /** Identity claims (profile, email …), protocol claims removed. */
  claims: Record<string, unknown>;
  tokens?: UpstreamTokens;
}

export interface UpstreamLoginRequest {
  state: string;
  codeVerifier: string;
  nonce: string;
}

export interface UpstreamIdentityProvider {
  /** Shown on the consent page: "You will sign in with …". */
  readonly displayName: string;
  /** Where to send the browser; the provider adds its own PKCE challenge (S256) and nonce. */
  authorizationUrl(state: string, codeVerifier: string, nonce: string): Promise<URL>;
  /** Validates the callback (state, iss, code exchange, ID token and nonce) and returns the user. */
  complete(callback: URL, expected: UpstreamLoginRequest): Promise<UpstreamIdentity>;
  /** Uses the IdP refresh token; absent when the provider cannot refresh. */
  refresh?(tokens: UpstreamTokens): Promise<UpstreamTokens>;
  /** Routes the provider serves under the gateway itself (the dev login page), by path. */
  handle?(request: Request, path: string): Promise<Response | undefined>;
}

/** Raised when the user cancelled or the IdP refused; the client gets `access_denied`. */
export class UpstreamDeniedError extends Error {
  override readonly name = 'UpstreamDeniedError';
}
