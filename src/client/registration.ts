/**
 * Client registration, in MCP's order of preference (C9): a pre-registered client, then a
 * Client ID Metadata Document URL (when the AS says it supports CIMD), then RFC 7591 DCR.
 */
import * as oauth from 'oauth4webapi';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { ClientInformation, parseDocument, readJson } from '../oauth/metadata.js';
import { ClientError } from './errors.js';
import { requestOptions } from './oauth4webapi-options.js';
import type { ClientRecord } from './state.js';

export interface RegistrationOptions {
  clientId?: string;
  clientSecret?: string;
  /** Token endpoint auth method for a pre-registered client; chosen from the AS's list when absent. */
  tokenEndpointAuthMethod?: string;
  /** An https URL whose document describes this client (CIMD). */
  clientMetadataUrl?: string;
  clientName?: string;
  /** RFC 7591 `application_type` (C13): `native` for CLIs and desktop apps. */
  applicationType?: 'native' | 'web';
  softwareId?: string;
  softwareVersion?: string;
}

export interface RegistrationContext {
  fetch: typeof fetch;
  allowHttp: boolean;
  clock: () => number;
  signal?: AbortSignal;
}

/** RFC 8414 §2: when the AS lists no methods, `client_secret_basic` is the default. */
function pickSecretMethod(as: AuthorizationServerMetadata): string {
  const supported = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  return supported[0] ?? 'client_secret_basic';
}

export async function registerClient(
  as: AuthorizationServerMetadata,
  redirectUri: string | undefined,
  scope: string | undefined,
  opts: RegistrationOptions,
  ctx: RegistrationContext,
): Promise<ClientRecord> {
  const now = ctx.clock();
  const redirectUris = redirectUri ? [redirectUri] : [];
  if (opts.clientId) {
    return {
      issuer: as.issuer,
      clientId: opts.clientId,
      ...(opts.clientSecret ? { clientSecret: opts.clientSecret } : {}),
      tokenEndpointAuthMethod:
        opts.tokenEndpointAuthMethod ?? (opts.clientSecret ? pickSecretMethod(as) : 'none'),
      redirectUris,
      source: 'pre-registered',
      registeredAt: now,
    };
  }
  if (opts.clientMetadataUrl && as.client_id_metadata_document_supported) {
    // CIMD §3: the client_id is the document's URL; public client, no secret (C12).
    return {
      issuer: as.issuer,
      clientId: opts.clientMetadataUrl,
      tokenEndpointAuthMethod: 'none',
      redirectUris,
      source: 'cimd',
      registeredAt: now,
    };
  }
  if (!as.registration_endpoint) {
    throw new ClientError(
      'registration_failed',
      `${as.issuer} offers no dynamic client registration${opts.clientMetadataUrl ? ' and no Client ID Metadata Document support' : ''}; register a client with it and pass --client-id (and --client-secret if it has one)`,
    );
  }
  const metadata: Partial<oauth.OmitSymbolProperties<oauth.Client>> = {
    client_name: opts.clientName ?? 'portcullis',
    redirect_uris: redirectUris,
    // C35: ask for refresh tokens explicitly.
    grant_types: redirectUri ? ['authorization_code', 'refresh_token'] : ['client_credentials'],
    response_types: redirectUri ? ['code'] : [],
    token_endpoint_auth_method: 'none',
    application_type: opts.applicationType ?? 'native',
    ...(scope ? { scope } : {}),
    ...(opts.softwareId ? { software_id: opts.softwareId } : {}),
    ...(opts.softwareVersion ? { software_version: opts.softwareVersion } : {}),
  };
  const endpoint = as.registration_endpoint;
  const send = async (body: typeof metadata) => {
    try {
      return await oauth.dynamicClientRegistrationRequest(
        as as oauth.AuthorizationServer,
        body,
        requestOptions(endpoint, ctx),
      );
    } catch (cause) {
      throw new ClientError(
        'registration_failed',
        `could not reach the registration endpoint of ${as.issuer}`,
        { cause },
      );
    }
  };
  let response = await send(metadata);
  if (response.status === 400 && metadata.scope !== undefined) {
    // RFC 7591 §2: `scope` is optional. Some ASes refuse scope values they know only per resource
    // (oidc-provider with RFC 8707 resource scopes); register without it rather than not at all.
    const refused = (await readJson(response.clone(), 'registration error').catch(() => ({}))) as {
      error?: unknown;
    };
    if (refused.error === 'invalid_client_metadata') {
      const { scope: _unregistered, ...withoutScope } = metadata;
      response = await send(withoutScope);
    }
  }
  if (response.status !== 201 && response.status !== 200) {
    const body = (await readJson(response, 'registration error').catch(() => ({}))) as Record<
      string,
      unknown
    >;
    const detail = typeof body['error_description'] === 'string' ? `: ${body['error_description']}` : '';
    const error = typeof body['error'] === 'string' ? body['error'] : `HTTP ${response.status}`;
    // C14: say what was refused, meaningfully.
    throw new ClientError(
      'registration_failed',
      `${as.issuer} refused the client registration (${error}${detail})`,
    );
  }
  const info = parseDocument(
    ClientInformation,
    await readJson(response, 'registration response'),
    'registration response',
  );
  return {
    issuer: as.issuer,
    clientId: info.client_id,
    ...(info.client_secret ? { clientSecret: info.client_secret } : {}),
    tokenEndpointAuthMethod:
      info.token_endpoint_auth_method ?? (info.client_secret ? pickSecretMethod(as) : 'none'),
    redirectUris: info.redirect_uris ?? redirectUris,
    source: 'dcr',
    registeredAt: now,
    ...(info.client_secret_expires_at ? { clientSecretExpiresAt: info.client_secret_expires_at * 1000 } : {}),
  };
}
