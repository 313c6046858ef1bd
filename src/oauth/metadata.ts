/**
 * Zod schemas for every OAuth document that crosses the wire. Untrusted input is parsed here,
 * at the edge; inside, the inferred types are trusted. Unknown members are kept (loose objects)
 * because every RFC here allows extensions.
 */
import { z } from 'zod';
import { OAuthError } from './errors.js';

const url = z.string().url();
const stringList = z.array(z.string());

/** RFC 9728 §2: OAuth 2.0 Protected Resource Metadata. */
export const ProtectedResourceMetadata = z.looseObject({
  resource: url,
  authorization_servers: z.array(url).optional(),
  jwks_uri: url.optional(),
  scopes_supported: stringList.optional(),
  bearer_methods_supported: stringList.optional(),
  resource_name: z.string().optional(),
  resource_documentation: url.optional(),
});
export type ProtectedResourceMetadata = z.infer<typeof ProtectedResourceMetadata>;

/** RFC 8414 §2 (and the OIDC Discovery fields MCP relies on). */
export const AuthorizationServerMetadata = z.looseObject({
  issuer: url,
  authorization_endpoint: url.optional(),
  token_endpoint: url.optional(),
  jwks_uri: url.optional(),
  registration_endpoint: url.optional(),
  scopes_supported: stringList.optional(),
  response_types_supported: stringList.optional(),
  grant_types_supported: stringList.optional(),
  token_endpoint_auth_methods_supported: stringList.optional(),
  revocation_endpoint: url.optional(),
  introspection_endpoint: url.optional(),
  code_challenge_methods_supported: stringList.optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
  client_id_metadata_document_supported: z.boolean().optional(),
});
export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadata>;

/** RFC 7591 §2: client metadata (request) — also the shape of a CIMD document. */
export const ClientMetadata = z.looseObject({
  redirect_uris: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: stringList.optional(),
  response_types: stringList.optional(),
  client_name: z.string().max(200).optional(),
  client_uri: url.optional(),
  logo_uri: url.optional(),
  scope: z.string().optional(),
  contacts: stringList.optional(),
  tos_uri: url.optional(),
  policy_uri: url.optional(),
  jwks_uri: url.optional(),
  jwks: z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  software_id: z.string().optional(),
  software_version: z.string().optional(),
  application_type: z.enum(['native', 'web']).optional(),
});
export type ClientMetadata = z.infer<typeof ClientMetadata>;

/** RFC 7591 §3.2.1: client information response. */
export const ClientInformation = ClientMetadata.extend({
  client_id: z.string().min(1),
  client_secret: z.string().optional(),
  client_id_issued_at: z.number().optional(),
  client_secret_expires_at: z.number().optional(),
});
export type ClientInformation = z.infer<typeof ClientInformation>;

/** RFC 6749 §5.1: successful token response. */
export const TokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().optional(),
  refresh_token: z.string().optional(),
  scope: z.string().optional(),
  id_token: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** RFC 6749 §5.2: error response. */
export const ErrorResponse = z.looseObject({
  error: z.string(),
  error_description: z.string().optional(),
  error_uri: z.string().optional(),
});

/**
 * Parses a JSON body against a schema; malformed input becomes an `OAuthError('invalid_response')`
 * naming the document and the first bad field (never the whole body: it may hold secrets).
 */
export function parseDocument<S extends z.ZodType>(schema: S, json: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new OAuthError('invalid_response', `${what} is malformed${where}: ${issue?.message ?? 'invalid'}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Reads and parses a JSON response body; a non-JSON body is an `invalid_response`. */
export async function readJson(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new OAuthError('invalid_response', `${what} is not JSON (HTTP ${response.status})`, { cause });
  }
}
