/**
 * The flow engine for one MCP server: keeps a usable access token in the Store, getting one by
 * discovery → registration → grant, refreshing it before it expires, and re-authorizing on
 * step-up. Everything a person or another process could race on goes through the Store's lock.
 */
import type * as oauth from 'oauth4webapi';
import type { Logger } from '../logger.js';
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { canonicalResourceUrl } from '../oauth/url-rules.js';
import type { Store } from '../store/store.js';
import type { NonInteractiveGrant } from './assertion-grants.js';
import { ClientError } from './errors.js';
import type { GrantContext } from './grants.js';
import type { RegistrationOptions } from './registration.js';
import { type ClientRecord, clientKey, NS, type ServerRecord, type TokenRecord, tokenKey } from './state.js';
import type { Interaction } from './types.js';

/** The protocol steps, loaded on first use (src/client/protocol-steps.ts). */
const protocolSteps = () => import('./protocol-steps.js');

export type GrantOption = { type: 'authorization_code' } | NonInteractiveGrant;

export interface AuthorizerOptions {
  serverUrl: string;
  store: Store;
  interaction?: Interaction | undefined;
  registration?: RegistrationOptions | undefined;
  grant?: GrantOption | undefined;
  privateKeyPem?: string | undefined;
  signingAlgorithm?: string | undefined;
  scope?: string | undefined;
  /** DPoP-bound tokens (RFC 9449): 'auto' (default) uses them when the AS advertises DPoP. */
  dpop?: boolean | 'auto' | undefined;
  /** RFC 8707 `resource` on authorize and token requests (C21); false for IdPs that reject it. */
  resource?: boolean | string | undefined;
  refreshSkewSeconds?: number | undefined;
  allowHttp?: boolean | undefined;
  fetch: typeof fetch;
  clock: () => number;
  logger: Logger;
  events: EventTarget;
  /** How long a person has to finish logging in. Default 5 minutes. */
  authorizationTimeoutMs?: number | undefined;
}

export interface AuthorizeRequest {
  resourceMetadataUrl?: string | undefined;
  challengedScope?: string | undefined;
  stepUp?: boolean | undefined;
  /** The access token that was just refused; a newer one in the Store means another process won. */
  rejectedToken?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** An authorization request made by `prepareAuthorization`, to be finished by `completeAuthorization`. */
export interface PreparedAuthorization {
  url: URL;
  state: string;
  codeVerifier: string;
  redirectUri: string;
  /** The AS the request went to; the callback's `iss` (RFC 9207) must equal it. */
  issuer: string;
  /** The AS said it puts `iss` in every authorization response (RFC 9207 §3). */
  issRequired: boolean;
  clientId: string;
  scopes: string[];
  resource?: string;
}

export class Authorizer {
  readonly serverUrl: string;
  private readonly o: AuthorizerOptions;
  private refreshing: Promise<TokenRecord> | undefined;
  private authorizing: Promise<TokenRecord> | undefined;
  private dpopHandle: Promise<oauth.DPoPHandle> | undefined;
  /** The last token record read from or written to the Store by this instance. */
  private memo: TokenRecord | undefined;
  private dpopChallenged = false;

  constructor(options: AuthorizerOptions) {
    this.o = options;
    this.serverUrl = canonicalResourceUrl(options.serverUrl);
  }

  /**
   * DPoP 'auto' needs both ends: the AS advertises it, and the resource takes DPoP-bound tokens
   * (MCP C32: Bearer is the default scheme; a Bearer-only resource refuses `Authorization: DPoP`).
   * A refresh keeps the binding of the token it replaces (RFC 9449 §5).
   */
  private async grantCtx(as: AuthorizationServerMetadata, replacing?: TokenRecord): Promise<GrantContext> {
    const useDpop =
      this.o.dpop === true ||
      (this.o.dpop !== false &&
        Boolean(as['dpop_signing_alg_values_supported']) &&
        (replacing ? replacing.tokenType.toLowerCase() === 'dpop' : await this.resourceAcceptsDpop()));
    return {
      fetch: this.o.fetch,
      allowHttp: this.o.allowHttp ?? false,
      clock: this.o.clock,
      ...(this.o.privateKeyPem ? { privateKeyPem: this.o.privateKeyPem } : {}),
      ...(this.o.signingAlgorithm ? { signingAlgorithm: this.o.signingAlgorithm } : {}),
      ...(useDpop ? { dpop: await this.dpop() } : {}),
    };
  }

  /** Set when the resource answered with a `DPoP` challenge (RFC 9449 §7.1). */
  noteDpopChallenge(): void {
    this.dpopChallenged = true;
  }

  /** RFC 9449 §7.1 challenge, RFC 9728 §2 PRM fields, or a DPoP-bound token it already took. */
  private async resourceAcceptsDpop(): Promise<boolean> {
    if (this.dpopChallenged) return true;
    const server = await this.serverRecord();
    const prm = server?.protectedResource;
    if (prm?.['dpop_bound_access_tokens_required'] === true) return true;
    if (Array.isArray(prm?.['dpop_signing_alg_values_supported'])) return true;
    return (await this.tokens(server))?.tokenType.toLowerCase() === 'dpop';
  }

  /** The DPoP handle (key pair kept in the Store, nonces cached per origin), made once. */
  dpop(): Promise<oauth.DPoPHandle> {
    this.dpopHandle ??= protocolSteps().then(async (steps) =>
      steps.createDpopHandle(await steps.loadDpopKeyPair(this.o.store, this.serverUrl)),
    );
    return this.dpopHandle;
  }

  /**
   * SEP-2352 (C15): has the resource moved to another authorization server? Re-reads PRM and
   * compares issuers; credentials of the old AS are then never used at the new one.
   */
  async authorizationServerMoved(resourceMetadataUrl: string | undefined): Promise<boolean> {
    const steps = await protocolSteps();
    const server = await this.serverRecord();
    const known = server?.authorizationServer?.issuer;
    if (!server || !known || !server.protectedResource) return false;
    const ctx = { fetch: this.o.fetch, allowHttp: this.o.allowHttp ?? false };
    const found = await steps
      .discoverProtectedResource(this.serverUrl, resourceMetadataUrl ?? server.resourceMetadataUrl, ctx)
      .catch(() => undefined);
    return found !== undefined && found.issuer !== known;
  }

  private emit(type: string, detail: Record<string, unknown>) {
    this.o.events.dispatchEvent(new CustomEvent(type, { detail: { serverUrl: this.serverUrl, ...detail } }));
  }

  async serverRecord(): Promise<ServerRecord | undefined> {
    return this.o.store.get<ServerRecord>(NS.servers, this.serverUrl);
  }

  private async tokens(server: ServerRecord | undefined): Promise<TokenRecord | undefined> {
    const issuer = server?.authorizationServer?.issuer;
    return issuer ? this.o.store.get<TokenRecord>(NS.tokens, tokenKey(this.serverUrl, issuer)) : undefined;
  }

  private expiresSoon(tokens: TokenRecord): boolean {
    if (tokens.expiresAt === undefined) return false;
    return tokens.expiresAt - (this.o.refreshSkewSeconds ?? 60) * 1000 <= this.o.clock();
  }

  /**
   * A usable access token, refreshed first when it expires within the skew; undefined when none is
   * stored (the caller then sends the request without one and reacts to the 401).
   */
  async accessToken(opts: { reload?: boolean } = {}): Promise<TokenRecord | undefined> {
    // The hot path: a token this instance read or obtained, still good, needs no Store read (and no
    // decryption) per request. A 401 asks with `reload` to see what other processes stored.
    if (!opts.reload && this.memo && !this.expiresSoon(this.memo)) return this.memo;
    const server = await this.serverRecord();
    const tokens = await this.tokens(server);
    this.memo = tokens;
    if (!tokens) return undefined;
    if (!this.expiresSoon(tokens)) return tokens;
    if (tokens.refreshToken) return this.refresh(tokens.accessToken);
    return tokens.expiresAt !== undefined && tokens.expiresAt > this.o.clock() ? tokens : undefined;
  }

  /**
   * Refreshes once for every concurrent caller in this process, and under the Store lock across
   * processes, re-reading inside the lock: if another process already rotated the refresh token,
   * its result is used and ours is never spent twice.
   */
  refresh(staleAccessToken: string | undefined): Promise<TokenRecord> {
    this.refreshing ??= this.refreshLocked(staleAccessToken).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshLocked(staleAccessToken: string | undefined): Promise<TokenRecord> {
    const steps = await protocolSteps();
    const server = await this.serverRecord();
    const as = server?.authorizationServer;
    if (!server || !as) throw new ClientError('reauth_required', `not logged in to ${this.serverUrl}`);
    const key = tokenKey(this.serverUrl, as.issuer);
    return this.o.store.withLock(NS.tokens, key, async () => {
      const current = await this.o.store.get<TokenRecord>(NS.tokens, key);
      if (!current)
        throw new ClientError('reauth_required', `no tokens stored for ${this.serverUrl}; log in again`);
      if (current.accessToken !== staleAccessToken && !this.expiresSoon(current)) {
        this.memo = current; // another process refreshed first: use its tokens
        return current;
      }
      const client = await this.o.store.get<ClientRecord>(NS.clients, clientKey(this.serverUrl, as.issuer));
      if (!client)
        throw new ClientError('reauth_required', `no client registration stored for ${this.serverUrl}`);
      try {
        const next = await steps.refreshAccessToken(
          as,
          client,
          current,
          this.resourceParam(server),
          await this.grantCtx(as, current),
        );
        await this.o.store.set(NS.tokens, key, next);
        this.memo = next;
        await this.recordError(undefined);
        this.emit('token_refreshed', { expiresAt: next.expiresAt });
        this.o.logger.debug({ serverUrl: this.serverUrl }, 'access token refreshed');
        return next;
      } catch (err) {
        return this.refreshFailed(err, client, key, current);
      }
    });
  }

  private async refreshFailed(
    err: unknown,
    client: ClientRecord,
    key: string,
    current: TokenRecord,
  ): Promise<never> {
    this.memo = undefined;
    const code =
      err instanceof OAuthError ? err.error : err instanceof ClientError ? err.code : 'network_error';
    if (code === 'invalid_grant') {
      // The grant is gone (revoked, expired, or rotated elsewhere): drop tokens, keep the registration.
      await this.o.store.delete(NS.tokens, key);
    } else if (code === 'invalid_client' || code === 'unauthorized_client') {
      // The AS forgot this client: drop it too, so the next login registers again.
      await this.o.store.delete(NS.tokens, key);
      if (client.source === 'dcr')
        await this.o.store.delete(NS.clients, clientKey(this.serverUrl, client.issuer));
    } else {
      await this.o.store.set(NS.tokens, key, {
        ...current,
        refreshError: { error: code, at: this.o.clock() },
      });
    }
    const why = err instanceof Error ? err.message : String(err);
    const message = `refreshing the access token for ${this.serverUrl} failed (${why}); a new login is needed`;
    await this.recordError({ code: 'reauth_required', message });
    this.emit('reauth_required', { reason: code });
    throw new ClientError('reauth_required', message, { cause: err });
  }

  private async recordError(error: { code: string; message: string } | undefined) {
    const server = await this.serverRecord();
    if (!server) return;
    if (!error && !server.lastError) return;
    const next: ServerRecord = { ...server, updatedAt: this.o.clock() };
    if (error) next.lastError = { ...error, at: this.o.clock() };
    else delete next.lastError;
    await this.o.store.set(NS.servers, this.serverUrl, next);
  }

  private resourceParam(server: ServerRecord): { resource?: string } {
    if (this.o.resource === false) return {};
    if (typeof this.o.resource === 'string') return { resource: this.o.resource }; // a user's override
    return { resource: server.resource ?? this.serverUrl };
  }

  /**
   * Gets a new token: discovery, registration, then the configured grant. One authorization per
   * process at a time, and across processes under the Store lock: a second process waiting on the
   * lock finds the first one's tokens and uses them instead of opening another browser.
   */
  authorize(request: AuthorizeRequest = {}): Promise<TokenRecord> {
    this.authorizing ??= this.authorizeLocked(request).finally(() => {
      this.authorizing = undefined;
    });
    return this.authorizing;
  }

  private async authorizeLocked(request: AuthorizeRequest): Promise<TokenRecord> {
    const timeoutMs = (this.o.authorizationTimeoutMs ?? 300_000) + 60_000;
    return this.o.store.withLock(
      NS.flows,
      this.serverUrl,
      async () => {
        if (!request.stepUp) {
          const fresh = await this.tokens(await this.serverRecord());
          if (fresh && fresh.accessToken !== request.rejectedToken && !this.expiresSoon(fresh)) return fresh;
        }
        try {
          return await this.runAuthorization(request, true);
        } catch (err) {
          if (err instanceof ClientError || err instanceof OAuthError) {
            await this.recordError({
              code: err instanceof ClientError ? err.code : err.error,
              message: err.message,
            });
          }
          throw err;
        }
      },
      { timeoutMs },
    );
  }

  private async discover(request: AuthorizeRequest): Promise<ServerRecord> {
    const steps = await protocolSteps();
    const previous = await this.serverRecord();
    const record = await steps.discoverServerRecord(
      this.serverUrl,
      previous,
      {
        resourceMetadataUrl: request.resourceMetadataUrl ?? previous?.resourceMetadataUrl,
        requireS256: this.grantType() === 'authorization_code',
        now: this.o.clock(),
      },
      {
        fetch: this.o.fetch,
        allowHttp: this.o.allowHttp ?? false,
        ...(request.signal ? { signal: request.signal } : {}),
      },
    );
    const from = previous?.authorizationServer?.issuer;
    const to = record.authorizationServer?.issuer;
    // C15: the resource moved to another AS; credentials of the old one are never reused.
    if (from && from !== to) this.o.logger.info({ from, to }, 'authorization server changed');
    await this.o.store.set(NS.servers, this.serverUrl, record);
    return record;
  }

  private grantType() {
    return this.o.grant?.type ?? 'authorization_code';
  }

  private async runAuthorization(request: AuthorizeRequest, mayReRegister: boolean): Promise<TokenRecord> {
    const server = await this.discover(request);
    const as = server.authorizationServer!;
    const scopes = await this.scopesFor(server, as, request);
    const scope = scopes.length ? scopes.join(' ') : undefined;
    let tokens: TokenRecord;
    try {
      tokens = await this.grant(server, as, scope, request);
    } catch (err) {
      if (mayReRegister && err instanceof OAuthError && err.error === 'invalid_client') {
        const stale = await this.o.store.get<ClientRecord>(NS.clients, clientKey(this.serverUrl, as.issuer));
        if (stale?.source === 'dcr') {
          this.o.logger.info(
            { issuer: as.issuer },
            'the authorization server no longer knows this client; registering again',
          );
          await this.o.store.delete(NS.clients, clientKey(this.serverUrl, as.issuer));
          return this.runAuthorization(request, false);
        }
      }
      throw err;
    }
    await this.saveAuthorization(server, as, tokens, scopes);
    return tokens;
  }

  private async scopesFor(server: ServerRecord, as: AuthorizationServerMetadata, request: AuthorizeRequest) {
    const steps = await protocolSteps();
    return steps.selectScopes({
      configured: this.o.scope,
      challenged: request.challengedScope,
      previous: server.requestedScopes,
      stepUp: request.stepUp ?? false,
      protectedResource: server.protectedResource,
      authorizationServer: as,
      wantRefreshToken: this.grantType() === 'authorization_code',
    });
  }

  private async saveAuthorization(
    server: ServerRecord,
    as: AuthorizationServerMetadata,
    tokens: TokenRecord,
    scopes: string[],
  ) {
    await this.o.store.set(NS.tokens, tokenKey(this.serverUrl, as.issuer), tokens);
    this.memo = tokens;
    const latest = (await this.serverRecord()) ?? server;
    const updated: ServerRecord = { ...latest, requestedScopes: scopes, updatedAt: this.o.clock() };
    delete updated.lastError;
    await this.o.store.set(NS.servers, this.serverUrl, updated);
    const scope = scopes.length ? scopes.join(' ') : undefined;
    this.emit('authorized', { issuer: as.issuer, scope: tokens.scope ?? scope });
  }

  /**
   * Web flow, step 1 (for hosts that cannot receive the callback in this process): discovery,
   * registration with the host's redirect URI, and the authorization request, without waiting
   * for the person. The caller keeps the result (its verifier secret) until the callback comes.
   */
  async prepareAuthorization(
    request: AuthorizeRequest & { redirectUri: string },
  ): Promise<PreparedAuthorization> {
    const steps = await protocolSteps();
    const server = await this.discover(request);
    const as = server.authorizationServer!;
    if (!as.authorization_endpoint)
      throw new ClientError('discovery_failed', `${as.issuer} advertises no authorization_endpoint`);
    const scopes = await this.scopesFor(server, as, request);
    const scope = scopes.length ? scopes.join(' ') : undefined;
    const client = await this.client(as, request.redirectUri, scope);
    const resource = this.resourceParam(server).resource;
    const { url, state, codeVerifier } = steps.buildAuthorizationRequest(as, client, {
      redirectUri: request.redirectUri,
      scope,
      resource,
    });
    this.emit('authorization_required', { url: url.href });
    return {
      url,
      state,
      codeVerifier,
      redirectUri: request.redirectUri,
      issuer: as.issuer,
      issRequired: as.authorization_response_iss_parameter_supported === true,
      clientId: client.clientId,
      scopes,
      ...(resource ? { resource } : {}),
    };
  }

  /**
   * Web flow, step 2: validates the callback (state, RFC 9207 `iss`, `error`), redeems the code
   * with the client and AS the request was made with, and stores the tokens where `accessToken()`
   * finds them. Refuses when the registration or the AS changed in between.
   */
  async completeAuthorization(callbackUrl: URL, pending: PreparedAuthorization): Promise<TokenRecord> {
    const steps = await protocolSteps();
    const server = await this.serverRecord();
    const as = server?.authorizationServer;
    if (!server || !as || as.issuer !== pending.issuer) {
      throw new ClientError(
        'authorization_failed',
        `the login for ${this.serverUrl} was started at ${pending.issuer}, which is no longer its authorization server; start the login again`,
      );
    }
    const client = await this.o.store.get<ClientRecord>(NS.clients, clientKey(this.serverUrl, as.issuer));
    if (client?.clientId !== pending.clientId) {
      throw new ClientError(
        'authorization_failed',
        `the client registration for ${this.serverUrl} changed since the login started; start the login again`,
      );
    }
    const tokens = await steps.redeemAuthorizationCode(
      as,
      client,
      {
        callbackUrl,
        state: pending.state,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
        ...(pending.resource ? { resource: pending.resource } : {}),
      },
      await this.grantCtx(as),
    );
    await this.saveAuthorization(server, as, tokens, pending.scopes);
    return tokens;
  }

  private async grant(
    server: ServerRecord,
    as: AuthorizationServerMetadata,
    scope: string | undefined,
    request: AuthorizeRequest,
  ) {
    const steps = await protocolSteps();
    const grant = this.o.grant ?? { type: 'authorization_code' };
    if (grant.type === 'authorization_code') return this.authorizationCodeGrant(server, as, scope, request);
    const client = await this.client(as, undefined, scope);
    const params = { ...this.resourceParam(server), ...(scope ? { scope } : {}) };
    return steps.requestNonInteractiveTokens(grant, as, client, params, await this.grantCtx(as));
  }

  private async client(
    as: AuthorizationServerMetadata,
    redirectUri: string | undefined,
    scope: string | undefined,
  ) {
    const steps = await protocolSteps();
    const key = clientKey(this.serverUrl, as.issuer);
    const stored = await this.o.store.get<ClientRecord>(NS.clients, key);
    const expired = stored?.clientSecretExpiresAt && stored.clientSecretExpiresAt <= this.o.clock();
    const configuredId = this.o.registration?.clientId;
    const usable =
      stored &&
      !expired &&
      (!configuredId || stored.clientId === configuredId) &&
      (!redirectUri || stored.source !== 'dcr' || stored.redirectUris.includes(redirectUri));
    if (usable) return stored;
    const client = await steps.registerClient(as, redirectUri, scope, this.o.registration ?? {}, {
      fetch: this.o.fetch,
      allowHttp: this.o.allowHttp ?? false,
      clock: this.o.clock,
    });
    await this.o.store.set(NS.clients, key, client);
    this.o.logger.info({ issuer: as.issuer, source: client.source }, 'client registration ready');
    return client;
  }

  private async authorizationCodeGrant(
    server: ServerRecord,
    as: AuthorizationServerMetadata,
    scope: string | undefined,
    request: AuthorizeRequest,
  ) {
    const steps = await protocolSteps();
    const interaction = this.o.interaction;
    if (!interaction) {
      throw new ClientError(
        'authorization_required',
        `${this.serverUrl} needs a login, and no way to ask a person was given`,
      );
    }
    if (!as.authorization_endpoint)
      throw new ClientError('discovery_failed', `${as.issuer} advertises no authorization_endpoint`);
    try {
      const redirectUri = await interaction.redirectUri(
        server.callbackPort ? { port: server.callbackPort } : {},
      );
      const client = await this.client(as, redirectUri, scope);
      const resource = this.resourceParam(server).resource;
      const { url, state, codeVerifier } = steps.buildAuthorizationRequest(as, client, {
        redirectUri,
        scope,
        resource,
      });
      this.emit('authorization_required', { url: url.href });
      const signal = AbortSignal.any([
        AbortSignal.timeout(this.o.authorizationTimeoutMs ?? 300_000),
        ...(request.signal ? [request.signal] : []),
      ]);
      const callbackUrl = await interaction.authorize(url, signal);
      const tokens = await steps.redeemAuthorizationCode(
        as,
        client,
        { callbackUrl, state, codeVerifier, redirectUri, ...(resource ? { resource } : {}) },
        await this.grantCtx(as),
      );
      const port = Number(new URL(redirectUri).port);
      if (port && port !== server.callbackPort) {
        const latest = (await this.serverRecord()) ?? server;
        await this.o.store.set(NS.servers, this.serverUrl, {
          ...latest,
          callbackPort: port,
          updatedAt: this.o.clock(),
        });
      }
      return tokens;
    } finally {
      await interaction.close?.();
    }
  }
}
