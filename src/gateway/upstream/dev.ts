/**
 * The dev identity provider: a login page served by the gateway itself, users from config.
 * It speaks the same shape as a real IdP (state, S256 PKCE, nonce, a one-time code, and short
 * access tokens with a refresh token) so `--dev` exercises every path the OIDC provider does,
 * upstream refresh included. Not for production: passwords are compared in memory.
 */
import { timingSafeEqual } from 'node:crypto';
import { OAuthError } from '../../oauth/errors.js';
import { codeChallengeS256, randomToken } from '../../oauth/pkce.js';
import type { Store } from '../../store/store.js';
import type { DevUpstreamConfig } from '../config.js';
import { readForm } from '../http/body.js';
import { html, pageResponse } from '../pages/layout.js';
import { hashToken } from '../tokens/format.js';
import type {
  UpstreamIdentity,
  UpstreamIdentityProvider,
  UpstreamLoginRequest,
  UpstreamTokens,
} from './types.js';

const CODES_NS = 'gateway:dev-idp:codes';
const REFRESH_NS = 'gateway:dev-idp:refresh';
export const DEV_LOGIN_PATH = '/dev-idp/login';

interface DevCode {
  username: string;
  challenge: string;
  nonce: string;
}

export interface DevUpstreamOptions {
  issuer: string;
  callbackUrl: string;
  store: Store;
  clock: () => number;
  maxBodyBytes: number;
}

export function createDevUpstream(
  config: DevUpstreamConfig,
  o: DevUpstreamOptions,
): UpstreamIdentityProvider {
  const users = new Map(config.users.map((u) => [u.username, u]));
  const loginUrl = `${o.issuer}${DEV_LOGIN_PATH}`;

  async function mintTokens(username: string, refreshToken?: string): Promise<UpstreamTokens> {
    const rt = refreshToken ?? `devr_${randomToken()}`;
    if (!refreshToken) await o.store.set(REFRESH_NS, hashToken(rt), username, { ttlSeconds: 30 * 24 * 3600 });
    return {
      accessToken: `dev_${randomToken()}`,
      refreshToken: rt,
      expiresAt: o.clock() + config.accessTokenTtl * 1000,
    };
  }

  function loginPage(params: URLSearchParams, error?: string, status = 200): Response {
    const hidden = ['state', 'code_challenge', 'nonce'].map(
      (k) => html`<input type="hidden" name="${k}" value="${params.get(k) ?? ''}">`,
    );
    const first = config.users[0]!;
    return pageResponse(
      {
        title: 'Sign in (dev)',
        body: html`<h1>Sign in</h1>
<p class="muted">Built-in development login. Users come from the gateway configuration.</p>
${error ? html`<div class="warn" role="alert">${error}</div>` : html``}
<form method="post" action="${loginUrl}">${hidden}
<label for="username">Username</label><input type="text" id="username" name="username" value="${first.username}" autocomplete="username" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">
<div class="actions"><button class="primary" type="submit" name="login" value="1">Sign in</button></div></form>`,
      },
      { status },
    );
  }

  return {
    displayName: 'the built-in dev login',

    async authorizationUrl(state, codeVerifier, nonce) {
      const url = new URL(loginUrl);
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', codeChallengeS256(codeVerifier));
      url.searchParams.set('nonce', nonce);
      return url;
    },

    async handle(request, path) {
      if (path !== DEV_LOGIN_PATH) return undefined;
      if (request.method === 'GET') return loginPage(new URL(request.url).searchParams);
      if (request.method !== 'POST')
        return new Response(null, { status: 405, headers: { Allow: 'GET, POST' } });
      const form = await readForm(request, o.maxBodyBytes);
      const params = new URLSearchParams([...form.entries()]);
      const user = users.get(form.get('username') ?? '');
      const password = form.get('password') ?? '';
      const ok = user && (user.password === undefined || safeEqual(user.password, password));
      if (!user || !ok) return loginPage(params, 'Unknown user or wrong password.', 401);
      const state = form.get('state');
      const challenge = form.get('code_challenge');
      const nonce = form.get('nonce');
      if (!state || !challenge || !nonce) return loginPage(params, 'This login link is incomplete.', 400);
      const code = randomToken();
      await o.store.set<DevCode>(
        CODES_NS,
        hashToken(code),
        { username: user.username, challenge, nonce },
        { ttlSeconds: 60 },
      );
      const back = new URL(o.callbackUrl);
      back.searchParams.set('code', code);
      back.searchParams.set('state', state);
      return new Response(null, {
        status: 303,
        headers: { Location: back.href, 'Cache-Control': 'no-store' },
      });
    },

    async complete(callback: URL, expected: UpstreamLoginRequest): Promise<UpstreamIdentity> {
      if (callback.searchParams.get('state') !== expected.state)
        throw new OAuthError('invalid_request', 'state mismatch');
      const code = callback.searchParams.get('code') ?? '';
      const record = await o.store.take<DevCode>(CODES_NS, hashToken(code));
      if (!record) throw new OAuthError('invalid_grant', 'dev login code is invalid or used');
      if (record.challenge !== codeChallengeS256(expected.codeVerifier) || record.nonce !== expected.nonce) {
        throw new OAuthError('invalid_grant', 'dev login PKCE or nonce mismatch');
      }
      const user = users.get(record.username);
      if (!user) throw new OAuthError('invalid_grant', 'user no longer configured');
      return {
        subject: user.username,
        claims: {
          sub: user.username,
          preferred_username: user.username,
          ...(user.name ? { name: user.name } : {}),
          ...(user.email ? { email: user.email } : {}),
        },
        tokens: await mintTokens(user.username),
      };
    },

    async refresh(tokens) {
      const username = tokens.refreshToken
        ? await o.store.get<string>(REFRESH_NS, hashToken(tokens.refreshToken))
        : undefined;
      if (!username) throw new OAuthError('invalid_grant', 'dev refresh token is unknown');
      return mintTokens(username, tokens.refreshToken);
    },
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(hashToken(a));
  const y = Buffer.from(hashToken(b));
  return timingSafeEqual(x, y);
}
