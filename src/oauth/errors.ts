/**
 * `OAuthError`: an error as it travels on the wire (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2).
 * The gateway renders it in one place; the client raises it when an AS or resource answers with one.
 */
export interface OAuthErrorOptions {
  /** HTTP status to render with (gateway) or that was received (client). */
  status?: number;
  /** The offending value or the underlying error; never rendered on the wire. */
  cause?: unknown;
  /** Extra members for the JSON body, e.g. `scope` for insufficient_scope. */
  extra?: Record<string, string>;
}

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  /** The registered error code, e.g. `invalid_grant`, `invalid_client`, `insufficient_scope`. */
  readonly error: string;
  readonly description: string | undefined;
  readonly status: number;
  readonly extra: Record<string, string>;

  constructor(error: string, description?: string, options: OAuthErrorOptions = {}) {
    super(description ? `${error}: ${description}` : error, { cause: options.cause });
    this.error = error;
    this.description = description;
    this.status = options.status ?? defaultStatus(error);
    this.extra = options.extra ?? {};
  }

  /** The RFC 6749 §5.2 JSON body. */
  toJSON(): Record<string, string> {
    const body: Record<string, string> = { error: this.error, ...this.extra };
    if (this.description) body['error_description'] = this.description;
    return body;
  }
}

function defaultStatus(error: string): number {
  switch (error) {
    case 'invalid_client':
    case 'invalid_token':
      return 401;
    case 'insufficient_scope':
    case 'access_denied':
      return 403;
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    default:
      return 400;
  }
}
