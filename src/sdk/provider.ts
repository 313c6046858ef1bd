/**
 * `portcullis/sdk`: an `OAuthClientProvider` for hosts that drive the official SDK's own auth
 * flow, kept in the same Store and the same records as the auth-aware fetch, so `portcullis
 * status` / `logout` see an SDK host's login and both can share one login.
 *
 * The SDK is an optional peer dependency; this module imports only its types.
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { ClientError } from '../client/errors.js';
import { clientAuthentication } from '../client/grants.js';
import {
  type ClientRecord,
  clientKey,
  NS,
  recordIssuer,
  type ServerRecord,
  type TokenRecord,
  tokenKey,
} from '../client/state.js';
import type { Interaction } from '../client/types.js';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { randomToken } from '../oauth/pkce.js';
import { assertBrowserUrl, canonicalResourceUrl } from '../oauth/url-rules.js';
import type { Store } from '../store/store.js';
import { nonInteractiveGrant, type SdkGrant } from './grants.js';

export interface PortcullisProviderOptions {
  serverUrl: string | URL;
  store: Store;
  /** How a person logs in; its redirect URI is registered. Absent for non-interactive grants. */
  interaction?: Interaction;
  /** The redirect URI to register when `interaction.redirectUri()` has not run yet. */
  redirectUrl?: string;
  clientId?: string;
  clientSecret?: string;
  tokenEndpointAuthMethod?: string;
  clientMetadataUrl?: string;
  clientName?: string;
  scope?: string;
  grant?: SdkGrant;
  privateKeyPem?: string;
  signingAlgorithm?: string;
  clock?: () => number;
  fetch?: typeof fetch;
}

const FLOW_TTL_SECONDS = 600;

export class PortcullisOAuthProvider implements OAuthClientProvider {
  readonly serverUrl: string;
  readonly clientMetadataUrl?: string;
  private readonly o: PortcullisProviderOptions;
  private readonly clock: () => number;
  private redirect: string | undefined;
  private authorizationCode: string | undefined;

  constructor(options: PortcullisProviderOptions) {
    this.o = options;
    this.serverUrl = canonicalResourceUrl(options.serverUrl);
    if (options.clientMetadataUrl) this.clientMetadataUrl = options.clientMetadataUrl;
    this.clock = options.clock ?? Date.now;
    this.redirect = options.redirectUrl;
  }

  /** Starts the interaction's listener (loopback) so `redirectUrl` is known before the SDK asks. */
  async prepare(): Promise<void> {
    if (this.o.interaction && !this.redirect) {
      const server = await this.server();
      this.redirect = await this.o.interaction.redirectUri(
        server?.callbackPort ? { port: server.callbackPort } : {},
      );
    }
  }

  get redirectUrl(): string | undefined {
    return this.o.grant ? undefined : this.redirect;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.o.clientName ?? 'portcullis',
      redirect_uris: this.redirect ? [this.redirect] : [],
      grant_types: this.o.grant ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
      response_types: this.o.grant ? [] : ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.o.scope ? { scope: this.o.scope } : {}),
    } as OAuthClientMetadata;
  }

  private server() {
    return this.o.store.get<ServerRecord>(NS.servers, this.serverUrl);
  }

  /**
   * The issuer records are keyed by: the SDK stamps its `authorizationServerUrl` on what it
   * saves; it is remembered on the server record so every later read finds the same records.
   */
  private async issuer(stamped?: unknown): Promise<string> {
    const server = await this.server();
    const known = recordIssuer(server);
    if (typeof stamped !== 'string') return known ?? '';
    if (stamped !== known) {
      await this.o.store.set(NS.servers, this.serverUrl, {
        ...server,
        serverUrl: this.serverUrl,
        authorizationServerUrl: stamped,
        updatedAt: this.clock(),
      } satisfies ServerRecord);
    }
    return stamped;
  }

  async state(): Promise<string> {
    const state = randomToken();
    await this.o.store.set(
      NS.flows,
      `${this.serverUrl} sdk-state`,
      { state },
      { ttlSeconds: FLOW_TTL_SECONDS },
    );
    return state;
  }

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    const issuer = await this.issuer();
    if (this.o.clientId) {
      return {
        client_id: this.o.clientId,
        ...(this.o.clientSecret ? { client_secret: this.o.clientSecret } : {}),
        ...(this.o.tokenEndpointAuthMethod
          ? { token_endpoint_auth_method: this.o.tokenEndpointAuthMethod }
          : {}),
        ...(issuer ? { issuer } : {}),
      } as OAuthClientInformationMixed;
    }
    const record = await this.o.store.get<ClientRecord>(NS.clients, clientKey(this.serverUrl, issuer));
    if (!record) return undefined;
    return {
      client_id: record.clientId,
      ...(record.clientSecret ? { client_secret: record.clientSecret } : {}),
      token_endpoint_auth_method: record.tokenEndpointAuthMethod,
      redirect_uris: record.redirectUris,
      ...(record.issuer ? { issuer: record.issuer } : {}),
    } as OAuthClientInformationMixed;
  }

  async saveClientInformation(info: OAuthClientInformationMixed): Promise<void> {
    const stamped = info as OAuthClientInformationMixed & { issuer?: string; redirect_uris?: string[] };
    const issuer = await this.issuer(stamped.issuer);
    const record: ClientRecord = {
      issuer,
      clientId: info.client_id,
      ...(info.client_secret ? { clientSecret: info.client_secret } : {}),
      tokenEndpointAuthMethod:
        ('token_endpoint_auth_method' in info && typeof info.token_endpoint_auth_method === 'string'
          ? info.token_endpoint_auth_method
          : undefined) ?? (info.client_secret ? 'client_secret_basic' : 'none'),
      redirectUris: stamped.redirect_uris ?? (this.redirect ? [this.redirect] : []),
      source: info.client_id === this.clientMetadataUrl ? 'cimd' : 'dcr',
      registeredAt: this.clock(),
    };
    await this.o.store.set(NS.clients, clientKey(this.serverUrl, issuer), record);
  }

  /** Tokens with `expires_in` counted down from the stored expiry, so the SDK sees the truth. */
  async tokens(): Promise<OAuthTokens | undefined> {
    const issuer = await this.issuer();
    const t = await this.o.store.get<TokenRecord>(NS.tokens, tokenKey(this.serverUrl, issuer));
    if (!t) return undefined;
    return {
      access_token: t.accessToken,
      token_type: t.tokenType,
      ...(t.refreshToken ? { refresh_token: t.refreshToken } : {}),
      ...(t.scope ? { scope: t.scope } : {}),
      ...(t.expiresAt !== undefined
        ? { expires_in: Math.max(0, Math.floor((t.expiresAt - this.clock()) / 1000)) }
        : {}),
      ...(t.issuer ? { issuer: t.issuer } : {}),
    } as OAuthTokens;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    const issuer = await this.issuer((tokens as OAuthTokens & { issuer?: string }).issuer);
    const now = this.clock();
    const record: TokenRecord = {
      issuer,
      accessToken: tokens.access_token,
      tokenType: tokens.token_type,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      ...(tokens.scope ? { scope: tokens.scope } : {}),
      issuedAt: now,
      ...(tokens.expires_in !== undefined ? { expiresAt: now + tokens.expires_in * 1000 } : {}),
    };
    await this.o.store.set(NS.tokens, tokenKey(this.serverUrl, issuer), record);
  }

  /**
   * Shows the URL through the interaction and waits for the callback; the code is kept for
   * `takeAuthorizationCode()` once `state` and RFC 9207 `iss` check out.
   */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const interaction = this.o.interaction;
    if (!interaction) throw new ClientError('authorization_required', `${this.serverUrl} needs a login`);
    assertBrowserUrl(authorizationUrl);
    const expected = await this.o.store.take<{ state: string }>(NS.flows, `${this.serverUrl} sdk-state`);
    const callback = await interaction.authorize(authorizationUrl, AbortSignal.timeout(300_000));
    const params = callback.searchParams;
    if (!expected || params.get('state') !== expected.state) {
      throw new ClientError('authorization_failed', 'the callback carried the wrong state; ignoring it');
    }
    const as = (await this.server())?.authorizationServer;
    const iss = params.get('iss');
    if (
      as &&
      ((iss !== null && iss !== as.issuer) ||
        (iss === null && as.authorization_response_iss_parameter_supported))
    ) {
      throw new ClientError(
        'authorization_failed',
        `the callback's iss does not name ${as.issuer} (RFC 9207)`,
      );
    }
    const error = params.get('error');
    if (error)
      throw new ClientError(
        'authorization_failed',
        `${as?.issuer ?? 'the authorization server'} returned ${error}`,
      );
    this.authorizationCode = params.get('code') ?? undefined;
    if (!this.authorizationCode)
      throw new ClientError('authorization_failed', 'the callback carried no code');
  }

  /** The code of the last completed login, once: pass it to `transport.finishAuth(code)`. */
  takeAuthorizationCode(): string | undefined {
    const code = this.authorizationCode;
    this.authorizationCode = undefined;
    return code;
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    await this.o.store.set(
      NS.flows,
      `${this.serverUrl} sdk-verifier`,
      { codeVerifier },
      { ttlSeconds: FLOW_TTL_SECONDS },
    );
  }

  async codeVerifier(): Promise<string> {
    const stored = await this.o.store.get<{ codeVerifier: string }>(
      NS.flows,
      `${this.serverUrl} sdk-verifier`,
    );
    if (!stored)
      throw new ClientError(
        'authorization_failed',
        'no PKCE code verifier is stored for this login; start again',
      );
    return stored.codeVerifier;
  }

  async saveDiscoveryState(state: OAuthDiscoveryState): Promise<void> {
    const previous = await this.server();
    const record: ServerRecord = {
      ...previous,
      serverUrl: this.serverUrl,
      ...(state.resourceMetadataUrl ? { resourceMetadataUrl: state.resourceMetadataUrl } : {}),
      ...(state.resourceMetadata
        ? { protectedResource: state.resourceMetadata as NonNullable<ServerRecord['protectedResource']> }
        : {}),
      ...(state.authorizationServerMetadata
        ? { authorizationServer: state.authorizationServerMetadata as AuthorizationServerMetadata }
        : {}),
      authorizationServerUrl: state.authorizationServerUrl,
      updatedAt: this.clock(),
    };
    await this.o.store.set(NS.servers, this.serverUrl, record);
  }

  async discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    const server = await this.server();
    if (!server?.authorizationServer) return undefined;
    return {
      authorizationServerUrl: recordIssuer(server) ?? server.authorizationServer.issuer,
      ...(server.resourceMetadataUrl ? { resourceMetadataUrl: server.resourceMetadataUrl } : {}),
      ...(server.protectedResource ? { resourceMetadata: server.protectedResource } : {}),
      authorizationServerMetadata: server.authorizationServer,
    } as OAuthDiscoveryState;
  }

  /** Scoped invalidation, as the SDK asks for it (e.g. `client` after `invalid_client`). */
  async invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void> {
    const issuer = await this.issuer();
    if (scope === 'all' || scope === 'tokens' || scope === 'client') {
      await this.o.store.delete(NS.tokens, tokenKey(this.serverUrl, issuer));
    }
    if (scope === 'all' || scope === 'client')
      await this.o.store.delete(NS.clients, clientKey(this.serverUrl, issuer));
    if (scope === 'all' || scope === 'verifier')
      await this.o.store.delete(NS.flows, `${this.serverUrl} sdk-verifier`);
    if (scope === 'all' || scope === 'discovery') await this.o.store.delete(NS.servers, this.serverUrl);
  }

  /** Non-interactive grants (client_credentials, jwt-bearer, ID-JAG) as the SDK's token request. */
  async prepareTokenRequest(scope?: string): Promise<URLSearchParams | undefined> {
    if (!this.o.grant) return undefined;
    const server = await this.server();
    return nonInteractiveGrant(this.o.grant, {
      scope: scope ?? this.o.scope,
      issuer: server?.authorizationServer?.issuer ?? '',
      resource: server?.protectedResource?.resource ?? this.serverUrl,
      fetch: this.o.fetch ?? fetch,
      clock: this.clock,
    });
  }

  /** Client authentication by the registered method, private_key_jwt included (RFC 7523 §2.2). */
  addClientAuthentication = async (
    headers: Headers,
    params: URLSearchParams,
    _url: string | URL,
    metadata?: { issuer: string; token_endpoint?: string },
  ): Promise<void> => {
    const info = await this.clientInformation();
    if (!info) return;
    const method =
      this.o.tokenEndpointAuthMethod ??
      ('token_endpoint_auth_method' in info && typeof info.token_endpoint_auth_method === 'string'
        ? info.token_endpoint_auth_method
        : info.client_secret
          ? 'client_secret_basic'
          : 'none');
    const client: ClientRecord = {
      issuer: metadata?.issuer ?? '',
      clientId: info.client_id,
      ...(info.client_secret ? { clientSecret: info.client_secret } : {}),
      tokenEndpointAuthMethod: method,
      redirectUris: [],
      source: 'pre-registered',
      registeredAt: 0,
    };
    const auth = await clientAuthentication(client, {
      fetch: this.o.fetch ?? fetch,
      allowHttp: false,
      clock: this.clock,
      ...(this.o.privateKeyPem ? { privateKeyPem: this.o.privateKeyPem } : {}),
      ...(this.o.signingAlgorithm ? { signingAlgorithm: this.o.signingAlgorithm } : {}),
    });
    const as = {
      issuer: metadata?.issuer ?? '',
      ...(metadata?.token_endpoint ? { token_endpoint: metadata.token_endpoint } : {}),
    };
    await auth(as, { client_id: client.clientId }, params, headers);
    if (method === 'none') params.set('client_id', client.clientId);
  };
}
