/**
 * The web login flow, for hosts that cannot listen on loopback (a web app, a popup or a
 * redirect): `begin` discovers, registers with the host's https redirect URI, and returns the
 * authorization URL; `complete` takes the callback URL the browser came back with and stores the
 * tokens where the connection manager's auth fetch for that key finds them.
 *
 * `state` is random (RFC 6749 §10.12), stored only as SHA-256(state) with a TTL and bound to the
 * user who began; the PKCE verifier is sealed at rest (web-login-record.ts). `complete` checks
 * everything before it consumes the record with `take`, so a forged, foreign, expired or
 * erroneous callback changes nothing stored, and a replay fails.
 */
import { type Logger, silentLogger } from '../logger.js';
import { OAuthError } from '../oauth/errors.js';
import { assertSecureUrl } from '../oauth/url-rules.js';
import { type Store, StoreError } from '../store/store.js';
import { Authorizer } from './authorizer.js';
import { ClientError } from './errors.js';
import { assertConnectionKey, assertId, type ConnectionKey, keyStore, ownerOf } from './key-store.js';
import { probe } from './probe.js';
import type { RegistrationOptions } from './registration.js';
import {
  assertEncryptionKey,
  NS_PENDING,
  NS_USED,
  openVerifier,
  type PendingLogin,
  sealVerifier,
  stateId,
  USED_TTL_SECONDS,
} from './web-login-record.js';

export interface WebFlowOptions {
  store: Store;
  /** The host's callback URL: https (http only on loopback, for development). */
  redirectUri: string;
  /** 32 bytes mixed into the key that seals the PKCE verifier (e.g. from `loadEncryptionKey`). */
  encryptionKey?: Uint8Array;
  /** How long a person has to finish logging in. Default 600 s. */
  ttlSeconds?: number;
  /** Registration defaults; `applicationType` is `web` unless set. */
  registration?: RegistrationOptions;
  /** Send RFC 8707 `resource` (default true). */
  resource?: boolean;
  allowHttp?: boolean;
  fetch?: typeof fetch;
  clock?: () => number;
  logger?: Logger;
}

export interface BeginLogin extends ConnectionKey {
  serverUrl: string;
  /** Overrides scope selection (space-separated). */
  scope?: string;
  registration?: RegistrationOptions;
}

export interface CompletedLogin {
  key: ConnectionKey;
  serverUrl: string;
  issuer: string;
  scope?: string;
  expiresAt?: number;
}

export interface WebFlow {
  begin(input: BeginLogin): Promise<{ authorizationUrl: string; expiresAt: number }>;
  /** `userId` is the user of the request that carries the callback, from the host's own session. */
  complete(input: { userId: string; callbackUrl: string | URL }): Promise<CompletedLogin>;
}

export function createWebFlow(options: WebFlowOptions): WebFlow {
  assertEncryptionKey(options.encryptionKey);
  const redirectUri = assertSecureUrl(options.redirectUri, 'redirect URI', {
    allowHttp: options.allowHttp ?? false,
  }).href;
  const { store } = options;
  const clock = options.clock ?? Date.now;
  const ttlMs = (options.ttlSeconds ?? 600) * 1000;
  const logger = options.logger ?? silentLogger;

  const authorizerFor = (key: ConnectionKey, serverUrl: string, extra: Partial<BeginLogin> = {}) =>
    new Authorizer({
      serverUrl,
      store: keyStore(store, key),
      registration: { applicationType: 'web', ...options.registration, ...extra.registration },
      scope: extra.scope,
      resource: options.resource,
      allowHttp: options.allowHttp,
      fetch: options.fetch ?? globalThis.fetch,
      clock,
      logger,
      events: new EventTarget(),
    });

  return {
    async begin(input) {
      assertConnectionKey(input);
      const key = { userId: input.userId, serverId: input.serverId };
      const found = await probe(input.serverUrl, {
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.allowHttp ? { allowHttp: true } : {}),
      });
      if (found.kind !== 'oauth') {
        const why =
          'reason' in found
            ? found.reason
            : 'hint' in found
              ? found.hint
              : `it answered HTTP ${found.status}`;
        throw new ClientError(
          'discovery_failed',
          `${input.serverUrl} does not ask for an OAuth login (${found.kind}): ${why}`,
        );
      }
      const authorizer = authorizerFor(key, input.serverUrl, input);
      return storeGuard(async () => {
        const prepared = await authorizer.prepareAuthorization({
          redirectUri,
          resourceMetadataUrl: found.resourceMetadataUrl ?? found.challenge['resource_metadata'],
          challengedScope: found.scopeSource === 'challenge' ? found.scopes?.join(' ') : undefined,
        });
        const now = clock();
        const record: PendingLogin = {
          v: 1,
          owner: ownerOf(input.userId),
          serverId: input.serverId,
          serverUrl: authorizer.serverUrl,
          redirectUri,
          issuer: prepared.issuer,
          issRequired: prepared.issRequired,
          clientId: prepared.clientId,
          scopes: prepared.scopes,
          ...(prepared.resource ? { resource: prepared.resource } : {}),
          verifier: sealVerifier(prepared.codeVerifier, prepared.state, options.encryptionKey),
          createdAt: now,
          expiresAt: now + ttlMs,
        };
        // Kept twice as long as it is valid, so a late callback is told "expired", not "unknown".
        await store.set(NS_PENDING, stateId(prepared.state), record, { ttlSeconds: (2 * ttlMs) / 1000 });
        logger.debug({ serverUrl: record.serverUrl, issuer: record.issuer }, 'web login begun');
        return { authorizationUrl: prepared.url.href, expiresAt: record.expiresAt };
      });
    },

    async complete(input) {
      assertId(input.userId, 'userId');
      const callback = parseCallback(input.callbackUrl);
      const state = callback.searchParams.get('state');
      if (!state)
        throw new ClientError(
          'invalid_callback',
          'the login callback carries no state; start the login again',
        );
      const id = stateId(state);
      return storeGuard(async () => {
        const pending = await store.get<PendingLogin>(NS_PENDING, id);
        if (!pending) {
          if (await store.get(NS_USED, id))
            throw new ClientError(
              'state_replayed',
              'this login response was already used; start the login again',
            );
          throw new ClientError(
            'state_unknown',
            'this login response matches no pending login (forged, or started too long ago); start the login again',
          );
        }
        if (pending.owner !== ownerOf(input.userId)) {
          throw new ClientError(
            'state_foreign',
            'this login was started by another user, so it cannot be completed here; sign in as the user who started it',
          );
        }
        if (pending.expiresAt <= clock()) {
          throw new ClientError(
            'state_expired',
            `this login was started more than ${ttlMs / 1000} s ago and has expired; start the login again`,
          );
        }
        checkAuthorizationResponse(callback, pending);
        // From here on the record is consumed: two concurrent completions never both pass.
        if (!(await store.take<PendingLogin>(NS_PENDING, id)))
          throw new ClientError(
            'state_replayed',
            'this login response was already used; start the login again',
          );
        await store.set(NS_USED, id, { at: clock() }, { ttlSeconds: USED_TTL_SECONDS });
        const key = { userId: input.userId, serverId: pending.serverId };
        const tokens = await authorizerFor(key, pending.serverUrl).completeAuthorization(callback, {
          url: callback,
          state,
          codeVerifier: openVerifier(pending.verifier, state, options.encryptionKey),
          redirectUri: pending.redirectUri,
          issuer: pending.issuer,
          issRequired: pending.issRequired,
          clientId: pending.clientId,
          scopes: pending.scopes,
          ...(pending.resource ? { resource: pending.resource } : {}),
        });
        logger.info({ serverUrl: pending.serverUrl, issuer: pending.issuer }, 'web login completed');
        return {
          key,
          serverUrl: pending.serverUrl,
          issuer: pending.issuer,
          ...(tokens.scope ? { scope: tokens.scope } : {}),
          ...(tokens.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
        };
      });
    },
  };
}

function parseCallback(input: string | URL): URL {
  try {
    return new URL(input);
  } catch (cause) {
    throw new ClientError('invalid_callback', 'the login callback is not a URL', { cause });
  }
}

/**
 * RFC 9207 §2.4 first (an `error` from the wrong issuer is not trusted), then RFC 6749 §4.1.2.1
 * errors, then the code itself (§4.1.2). `state` was matched by looking the record up.
 */
function checkAuthorizationResponse(callback: URL, pending: PendingLogin): void {
  const params = callback.searchParams;
  const iss = params.get('iss');
  if (iss !== null && iss !== pending.issuer) {
    throw new ClientError(
      'authorization_failed',
      `the login response comes from issuer ${iss}, but the login was started at ${pending.issuer} (RFC 9207); refusing it`,
    );
  }
  if (iss === null && pending.issRequired) {
    throw new ClientError(
      'authorization_failed',
      `${pending.issuer} promises an iss parameter in every login response (RFC 9207) but this one has none; refusing it`,
    );
  }
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description') ?? undefined;
    throw new ClientError(
      'authorization_failed',
      `${pending.issuer} did not authorize the login: ${error}${description ? ` (${description})` : ''}`,
      { cause: new OAuthError(error, description) },
    );
  }
  if (!params.get('code')) {
    throw new ClientError(
      'invalid_callback',
      'the login callback carries no authorization code; start the login again',
    );
  }
}

/** A failing Store becomes one typed error a host can switch on; the StoreError stays as the cause. */
export async function storeGuard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StoreError) {
      throw new ClientError(
        'store_unavailable',
        `the token store failed (${err.message}); try again once it is back`,
        { cause: err },
      );
    }
    throw err;
  }
}
