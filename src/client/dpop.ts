/**
 * DPoP (RFC 9449, MCP SEP-1932): when the AS advertises `dpop_signing_alg_values_supported`, tokens
 * are bound to a key pair that this client keeps in the Store (so another process can present the
 * same binding), proofs are added to token and resource requests by oauth4webapi, and a
 * `use_dpop_nonce` challenge (§8, §9) is answered by retrying once with the server's nonce.
 */
import * as oauth from 'oauth4webapi';
import type { Store } from '../store/store.js';

const NS_DPOP = 'dpop';
const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

interface StoredKeyPair {
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
}

export async function loadDpopKeyPair(store: Store, serverUrl: string): Promise<CryptoKeyPair> {
  let stored = await store.get<StoredKeyPair>(NS_DPOP, serverUrl);
  if (!stored) {
    const generated = await crypto.subtle.generateKey(ES256, true, ['sign', 'verify']);
    stored = {
      privateJwk: await crypto.subtle.exportKey('jwk', generated.privateKey),
      publicJwk: await crypto.subtle.exportKey('jwk', generated.publicKey),
    };
    await store.set(NS_DPOP, serverUrl, stored);
  }
  return {
    privateKey: await crypto.subtle.importKey('jwk', stored.privateJwk, ES256, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', stored.publicJwk, ES256, true, ['verify']),
  };
}

export function createDpopHandle(keyPair: CryptoKeyPair): oauth.DPoPHandle {
  return oauth.DPoP({}, keyPair);
}

/** Runs a token-endpoint request, retrying once when the AS asks for a DPoP nonce (RFC 9449 §8). */
export async function withDpopNonceRetry<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return run();
    throw err;
  }
}

/**
 * Sends a request with a DPoP-bound token: `Authorization: DPoP …` plus a fresh proof (RFC 9449
 * §7.1), retrying once on `use_dpop_nonce` (§9). Other challenges come back as the response.
 */
export async function dpopResourceRequest(
  handle: oauth.DPoPHandle,
  accessToken: string,
  url: string,
  init: RequestInit & { headers: Headers },
  baseFetch: typeof fetch,
): Promise<Response> {
  const target = new URL(url);
  const options: oauth.ProtectedResourceRequestOptions = {
    DPoP: handle,
    [oauth.allowInsecureRequests]: target.protocol === 'http:',
    [oauth.customFetch]: (u, o) =>
      baseFetch(u, {
        ...init,
        ...o,
        body: o.body as BodyInit | null,
        redirect: init.redirect ?? 'follow',
        signal: init.signal ?? null,
      }),
  };
  const method = (init.method ?? 'GET').toUpperCase();
  const body = (init.body ?? null) as oauth.ProtectedResourceRequestBody;
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(init.headers);
    headers.delete('authorization');
    headers.delete('dpop');
    try {
      return await oauth.protectedResourceRequest(accessToken, method, target, headers, body, options);
    } catch (err) {
      if (attempt === 0 && oauth.isDPoPNonceError(err)) continue;
      if (err instanceof oauth.WWWAuthenticateChallengeError) return err.response;
      throw err;
    }
  }
}
