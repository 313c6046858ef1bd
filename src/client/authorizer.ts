/**
 * The flow engine for one MCP server: keeps a usable access token in the Store, getting one by
 * discovery → registration → grant, refreshing it before it expires, and re-authorizing on
 * step-up. Everything a person or another process could race on goes through the Store's lock.
 */
import type * as oauth from 'oauth4webapi';
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { canonicalResourceUrl } from '../oauth/url-rules.js';
import type {
  AuthorizeRequest,
  AuthorizerOptions,
  GrantOption,
  PreparedAuthorization,
} from './authorizer-options.js';
import { dropDcrClient, lookUpClient } from './client-lookup.js';
import { ClientError } from './errors.js';
import { grantContext, prmAcceptsDpop, shouldUseDpop } from './grant-context.js';
import type { GrantContext } from './grants.js';
import {
  assertSameClient,
  assertSameIssuer,
  codeRedemption,
  preparedAuthorization,
} from './prepared-authorization.js';
import { refreshErrorCode, storeRefreshFailure } from './refresh-failure.js';
import { authorizationServerMoved, discoverServer } from './server-discovery.js';
import { type ClientRecord, clientKey, NS, type ServerRecord, type TokenRecord, tokenKey } from './state.js';

/** The protocol steps, loaded on first use (src/client/protocol-steps.ts). */
const protocolSteps = () => import('./protocol-steps.js');

export type { AuthorizeRequest, AuthorizerOptions, GrantOption, PreparedAuthorization };

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

  /** The context of a token request; a refresh passes the tokens it replaces (see ./grant-context.ts). */
  private async grantCtx(as: AuthorizationServerMetadata, replacing?: TokenRecord): Promise<GrantContext> {
    const dpop = await shouldUseDpop(this.o.dpop, as, replacing, () => this.resourceAcceptsDpop());
    return grantContext(this.o, dpop ? await this.dpop() : undefined);
  }

  /** Set when the resource answered with a `DPoP` challenge (RFC 9449 §7.1). */
  noteDpopChallenge(): void {
    this.dpopChallenged = true;
  }

  /** RFC 9449 §7.1 challenge, RFC 9728 §2 PRM fields, or a DPoP-bound token it already took. */
  private async resourceAcceptsDpop(): Promise<boolean> {
    if (this.dpopChallenged) return true;
    const server = await this.serverRecord();
    if (prmAcceptsDpop(server?.protectedResource)) return true;
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
    const ctx = { ...this.context(), discoverProtectedResource: steps.discoverProtectedResource };
    return authorizationServerMoved(ctx, await this.serverRecord(), resourceMetadataUrl);
  }

  /** The options with the canonical server URL, as the helper modules take them. */
  private context() {
    return { ...this.o, serverUrl: this.serverUrl };
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
    const code = refreshErrorCode(err);
    await storeRefreshFailure(this.o.store, this.o.clock, {
      serverUrl: this.serverUrl,
      error: code,
      key,
      tokens: current,
      client,
    });
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
    const ctx = { ...this.context(), discover: steps.discoverServerRecord };
    return discoverServer(ctx, await this.serverRecord(), request, this.grantType() === 'authorization_code');
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
      const invalidClient = err instanceof OAuthError && err.error === 'invalid_client';
      if (mayReRegister && invalidClient && (await dropDcrClient(this.context(), as.issuer))) {
        return this.runAuthorization(request, false);
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
    const { redirectUri } = request;
    const client = await this.client(as, redirectUri, scope);
    const resource = this.resourceParam(server).resource;
    const built = steps.buildAuthorizationRequest(as, client, { redirectUri, scope, resource });
    this.emit('authorization_required', { url: built.url.href });
    return preparedAuthorization(as, client, { ...built, redirectUri }, scopes, resource);
  }

  /**
   * Web flow, step 2: validates the callback (state, RFC 9207 `iss`, `error`), redeems the code
   * with the client and AS the request was made with, and stores the tokens where `accessToken()`
   * finds them. Refuses when the registration or the AS changed in between.
   */
  async completeAuthorization(callbackUrl: URL, pending: PreparedAuthorization): Promise<TokenRecord> {
    const steps = await protocolSteps();
    const server = await this.serverRecord();
    assertSameIssuer(this.serverUrl, pending, server);
    const as = server.authorizationServer;
    const client = await this.o.store.get<ClientRecord>(NS.clients, clientKey(this.serverUrl, as.issuer));
    assertSameClient(this.serverUrl, pending, client);
    const redemption = codeRedemption(callbackUrl, pending);
    const tokens = await steps.redeemAuthorizationCode(as, client, redemption, await this.grantCtx(as));
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
    return lookUpClient(as, redirectUri, scope, { ...this.context(), registerClient: steps.registerClient });
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
