/**
 * The core: a `fetch` for one MCP server that carries OAuth. It adds the bearer token (C32: in
 * the header, on every request), and on 401 refreshes or authorizes and retries once; on 403
 * `insufficient_scope` it steps up with the union of scopes, a bounded number of times (C25–C27).
 * Any transport that takes a `fetch` can use it, e.g. the SDK's `StreamableHTTPClientTransport`.
 */
import { type Logger, silentLogger } from '../logger.js';
import { parseWwwAuthenticate } from '../oauth/www-authenticate.js';
import type { Store } from '../store/store.js';
import { Authorizer, type GrantOption } from './authorizer.js';
import { isClientError } from './errors.js';
import type { RegistrationOptions } from './registration.js';
import type { TokenRecord } from './state.js';
import type { AuthFetch, Interaction } from './types.js';

export interface AuthFetchOptions {
  serverUrl: string | URL;
  store: Store;
  /** How a person is asked to log in; without one, a needed login is an `authorization_required` error. */
  interaction?: Interaction;
  registration?: RegistrationOptions;
  grant?: GrantOption;
  /** PKCS#8 PEM of the client's key, for `private_key_jwt`. */
  privateKeyPem?: string;
  signingAlgorithm?: string;
  /** Overrides scope selection (space-separated). */
  scope?: string;
  /** DPoP-bound tokens (RFC 9449): 'auto' (default) when the AS advertises DPoP. */
  dpop?: boolean | 'auto';
  /** RFC 8707 `resource`: sent by default (true); false for IdPs that reject it; a string overrides the value. */
  resource?: boolean | string;
  /** Refresh this many seconds before expiry. Default 60. */
  refreshSkewSeconds?: number;
  /** Step-up re-authorizations per request. Default 2. */
  maxStepUps?: number;
  /** Permit cleartext http to non-loopback hosts (never the default). */
  allowHttp?: boolean;
  /** Static headers added to every request to the MCP server (e.g. an API key beside OAuth). */
  headers?: Record<string, string>;
  authorizationTimeoutMs?: number;
  fetch?: typeof fetch;
  clock?: () => number;
  logger?: Logger;
}

export function createAuthFetch(options: AuthFetchOptions): AuthFetch & { authorizer: Authorizer } {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const events = new EventTarget();
  const authorizer = new Authorizer({
    serverUrl: String(options.serverUrl),
    store: options.store,
    interaction: options.interaction,
    registration: options.registration,
    grant: options.grant,
    privateKeyPem: options.privateKeyPem,
    signingAlgorithm: options.signingAlgorithm,
    scope: options.scope,
    dpop: options.dpop,
    resource: options.resource,
    refreshSkewSeconds: options.refreshSkewSeconds,
    allowHttp: options.allowHttp,
    authorizationTimeoutMs: options.authorizationTimeoutMs,
    fetch: baseFetch,
    clock: options.clock ?? Date.now,
    logger: options.logger ?? silentLogger,
    events,
  });
  const maxStepUps = options.maxStepUps ?? 2;
  const staticHeaders = Object.entries(options.headers ?? {});

  /** The Bearer challenge's parameters, else the DPoP one's; a DPoP challenge is noted (RFC 9449 §7.1). */
  const challengeOf = (response: Response | undefined): Record<string, string> => {
    const challenges = parseWwwAuthenticate(response?.headers.get('www-authenticate'));
    const dpop = challenges.find((c) => c.scheme === 'dpop');
    if (dpop) authorizer.noteDpopChallenge();
    return challenges.find((c) => c.scheme === 'bearer')?.params ?? dpop?.params ?? {};
  };

  const send = async (input: string | URL | Request, init: RequestInit, token: TokenRecord | undefined) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    for (const [k, v] of staticHeaders) headers.set(k, v);
    headers.delete('authorization');
    if (token && token.tokenType.toLowerCase() === 'dpop') {
      const url = input instanceof Request ? input.url : String(input);
      const { dpopResourceRequest } = await import('./dpop.js');
      return dpopResourceRequest(
        await authorizer.dpop(),
        token.accessToken,
        url,
        { ...init, headers },
        baseFetch,
      );
    }
    if (token) headers.set('authorization', `Bearer ${token.accessToken}`);
    return baseFetch(input, { ...init, headers });
  };

  const authFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const replayable = await makeReplayable(input, init);
    const signal = replayable.init.signal ?? undefined;
    // A failed proactive refresh with a person at hand: send without a token and log in on the 401.
    let token = await authorizer.accessToken().catch((err: unknown) => {
      if (options.interaction && isClientError(err, 'reauth_required')) return undefined;
      throw err;
    });
    let response = await send(replayable.input, replayable.init, token);
    let retriedUnauthorized = false;
    let stepUps = 0;
    for (;;) {
      const challenge = challengeOf(response);
      if (response.status === 401 && !retriedUnauthorized) {
        retriedUnauthorized = true;
        await response.body?.cancel();
        token = await recover(token?.accessToken, challenge, signal);
      } else if (
        response.status === 403 &&
        challenge['error'] === 'insufficient_scope' &&
        stepUps < maxStepUps
      ) {
        stepUps++;
        await response.body?.cancel();
        token = await authorizer.authorize({
          stepUp: true,
          challengedScope: challenge['scope'],
          resourceMetadataUrl: challenge['resource_metadata'],
          rejectedToken: token?.accessToken,
          signal,
        });
      } else {
        return response;
      }
      response = await send(replayable.input, replayable.init, token);
    }
  };

  /**
   * 401 on a token we sent: if the resource moved to another AS, authorize there (SEP-2352);
   * if another caller already holds a newer token, use it; else refresh, and if that is not
   * possible, authorize.
   */
  const recover = async (
    rejected: string | undefined,
    challenge: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<TokenRecord> => {
    const authorize = () =>
      authorizer.authorize({
        resourceMetadataUrl: challenge['resource_metadata'],
        challengedScope: challenge['scope'],
        rejectedToken: rejected,
        signal,
      });
    if (!rejected || (await authorizer.authorizationServerMoved(challenge['resource_metadata'])))
      return authorize();
    const stored = await authorizer.accessToken({ reload: true }).catch(() => undefined);
    if (stored && stored.accessToken !== rejected) return stored;
    if (stored?.refreshToken) {
      try {
        return await authorizer.refresh(rejected);
      } catch (err) {
        if (!options.interaction) throw err;
      }
    }
    return authorize();
  };

  return Object.assign(authFetch, {
    events,
    authorizer,
    async authorize(opts: { signal?: AbortSignal } = {}) {
      const current = await authorizer.accessToken();
      if (current) return;
      const probe = await send(
        authorizer.serverUrl,
        { method: 'GET', headers: { accept: 'text/event-stream' } },
        undefined,
      ).catch(() => undefined);
      const challenge = challengeOf(probe);
      await probe?.body?.cancel().catch(() => {});
      await authorizer.authorize({
        resourceMetadataUrl: challenge['resource_metadata'],
        challengedScope: challenge['scope'],
        signal: opts.signal,
      });
    },
  });
}

/** A request we may have to send twice: a stream body is buffered once; strings and bytes are reused. */
async function makeReplayable(input: string | URL | Request, init: RequestInit) {
  if (input instanceof Request) {
    const body = input.body ? await input.arrayBuffer() : undefined;
    const merged: RequestInit = {
      method: input.method,
      headers: init.headers ?? input.headers,
      ...(body ? { body } : {}),
      signal: init.signal ?? input.signal,
      redirect: input.redirect,
    };
    return { input: input.url, init: { ...init, ...merged } };
  }
  if (init.body instanceof ReadableStream) {
    const body = await new Response(init.body).arrayBuffer();
    return { input, init: { ...init, body } };
  }
  return { input, init };
}
