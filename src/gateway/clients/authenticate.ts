/**
 * Client authentication at the token, revocation and introspection endpoints
 * (OAuth 2.1 §2.4 / RFC 6749 §2.3.1): `client_secret_basic`, `client_secret_post`, or `none`
 * for public clients — exactly one method per request, and only the one registered.
 */
import { OAuthError } from '../../oauth/errors.js';
import type { HeaderSource } from '../context.js';
import { GatewayError } from '../errors.js';
import { sameHash } from '../tokens/format.js';
import type { ClientRegistry } from './registry.js';
import { sha256 } from './registry.js';
import type { RegisteredClient, TokenEndpointAuthMethod } from './types.js';

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="portcullis"' };

export async function authenticateClient(
  request: { headers: HeaderSource },
  form: Map<string, string>,
  registry: ClientRegistry,
): Promise<RegisteredClient> {
  const presented = credentialsFrom(request, form);
  const failure = (why: string) =>
    presented.method === 'client_secret_basic'
      ? new GatewayError('invalid_client', why, { status: 401, headers: BASIC_CHALLENGE })
      : new OAuthError('invalid_client', why, { status: 401 });

  let client: RegisteredClient | undefined;
  try {
    client = await registry.find(presented.clientId);
  } catch (cause) {
    if (cause instanceof OAuthError && cause.error === 'invalid_client')
      throw failure(cause.description ?? 'unknown client');
    throw cause;
  }
  if (!client) throw failure('unknown client');
  if (client.tokenEndpointAuthMethod !== presented.method) {
    throw failure(`client must authenticate with ${client.tokenEndpointAuthMethod}`);
  }
  if (presented.method !== 'none') {
    if (!client.secretHash || !sameHash(sha256(presented.secret ?? ''), client.secretHash)) {
      throw failure('client authentication failed');
    }
  }
  return client;
}

interface Presented {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret?: string;
}

function credentialsFrom(request: { headers: HeaderSource }, form: Map<string, string>): Presented {
  const header = request.headers.get('authorization');
  const bodyId = form.get('client_id');
  const bodySecret = form.get('client_secret');
  if (header && /^basic\s/i.test(header)) {
    if (bodySecret !== undefined)
      throw new OAuthError('invalid_request', 'use one client authentication method');
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new GatewayError('invalid_client', 'malformed Basic credentials', {
        status: 401,
        headers: BASIC_CHALLENGE,
      });
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (bodyId !== undefined && bodyId !== clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the Authorization header');
    }
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (header)
    throw new OAuthError('invalid_request', 'unsupported Authorization scheme for client authentication');
  if (bodyId === undefined) throw new OAuthError('invalid_request', 'client_id is required');
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  return { method: 'none', clientId: bodyId };
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials', { status: 401 });
  }
}
