/**
 * What the browser-facing part of /authorize keeps between requests, all in the store with TTLs:
 * - interactions: one validated authorization request awaiting consent and login, bound to the
 *   browser that started it (hash of its browser cookie) and to a CSRF token;
 * - upstream states: the gateway's own state + PKCE verifier + nonce toward the IdP, created only
 *   after consent, single use, ≤ 10 minutes (MCP SBP §Confused Deputy / A35);
 * - sessions: who signed in on this browser, so a returning user is known before consent;
 * - consents: remembered approvals per user + client + redirect URI, with the scopes approved (A33).
 */
import type { Store } from '../../store/store.js';
import type { ClientSource } from '../clients/types.js';
import { hashToken } from '../tokens/format.js';

const INTERACTIONS_NS = 'gateway:interactions';
const UPSTREAM_STATES_NS = 'gateway:upstream-states';
const SESSIONS_NS = 'gateway:sessions';
const CONSENTS_NS = 'gateway:consents';

/** The authorization request after validation (OAuth 2.1 §4.1.1). */
export interface AuthorizationRequest {
  clientId: string;
  /** The redirect URI to answer at (the request's, after matching). */
  redirectUri: string;
  /** The registered URI it matched (differs only in a loopback port); the consent key. */
  registeredRedirectUri: string;
  redirectUriSent: boolean;
  state?: string;
  codeChallenge: string;
  scopes: string[];
  resource: string;
}

/** What the consent page shows about the client. */
export interface ClientSummary {
  clientId: string;
  name?: string;
  source: ClientSource;
  redirectUris: string[];
}

export interface Interaction {
  id: string;
  /** SHA-256 of the browser cookie that started it. */
  browser: string;
  csrf: string;
  client: ClientSummary;
  request: AuthorizationRequest;
  /** Set when the signed-in user is already known (a session), skipping the upstream login. */
  user?: SignedInUser;
  expiresAt: number;
}

export interface SignedInUser {
  userId: string;
  claims: Record<string, unknown>;
  loginId?: string;
}

export interface UpstreamState {
  interactionId: string;
  codeVerifier: string;
  nonce: string;
}

interface SessionRecord extends SignedInUser {
  expiresAt: number;
}

interface ConsentRecord {
  scopes: string[];
  approvedAt: number;
}

export interface RecordsOptions {
  store: Store;
  clock: () => number;
  interactionTtl: number;
  sessionTtl: number;
  consentTtl: number;
}

export class InteractionRecords {
  constructor(private readonly o: RecordsOptions) {}

  async createInteraction(data: Omit<Interaction, 'expiresAt'>): Promise<Interaction> {
    const interaction: Interaction = { ...data, expiresAt: this.o.clock() + this.o.interactionTtl * 1000 };
    await this.saveInteraction(interaction);
    return interaction;
  }

  async saveInteraction(interaction: Interaction): Promise<void> {
    const ttlSeconds = Math.max(1, Math.ceil((interaction.expiresAt - this.o.clock()) / 1000));
    await this.o.store.set(INTERACTIONS_NS, interaction.id, interaction, { ttlSeconds });
  }

  async getInteraction(id: string): Promise<Interaction | undefined> {
    const interaction = await this.o.store.get<Interaction>(INTERACTIONS_NS, id);
    return interaction && interaction.expiresAt > this.o.clock() ? interaction : undefined;
  }

  /** Single use: an interaction ends in exactly one code or one error. */
  async takeInteraction(id: string): Promise<Interaction | undefined> {
    const interaction = await this.o.store.take<Interaction>(INTERACTIONS_NS, id);
    return interaction && interaction.expiresAt > this.o.clock() ? interaction : undefined;
  }

  async putUpstreamState(state: string, value: UpstreamState): Promise<void> {
    await this.o.store.set(UPSTREAM_STATES_NS, hashToken(state), value, {
      ttlSeconds: this.o.interactionTtl,
    });
  }

  /** RFC 6749 §10.12 / A35: exact match, single use. */
  async takeUpstreamState(state: string): Promise<UpstreamState | undefined> {
    return this.o.store.take<UpstreamState>(UPSTREAM_STATES_NS, hashToken(state));
  }

  async getSession(browserCookie: string | undefined): Promise<SignedInUser | undefined> {
    if (!browserCookie) return undefined;
    const record = await this.o.store.get<SessionRecord>(SESSIONS_NS, hashToken(browserCookie));
    if (!record || record.expiresAt <= this.o.clock()) return undefined;
    return {
      userId: record.userId,
      claims: record.claims,
      ...(record.loginId ? { loginId: record.loginId } : {}),
    };
  }

  async putSession(browserCookie: string, user: SignedInUser): Promise<void> {
    const record: SessionRecord = { ...user, expiresAt: this.o.clock() + this.o.sessionTtl * 1000 };
    await this.o.store.set(SESSIONS_NS, hashToken(browserCookie), record, { ttlSeconds: this.o.sessionTtl });
  }

  async rememberConsent(
    userId: string,
    clientId: string,
    redirectUri: string,
    scopes: string[],
  ): Promise<void> {
    const key = consentKey(userId, clientId, redirectUri);
    const previous = await this.o.store.get<ConsentRecord>(CONSENTS_NS, key);
    const union = [...new Set([...(previous?.scopes ?? []), ...scopes])];
    await this.o.store.set<ConsentRecord>(
      CONSENTS_NS,
      key,
      { scopes: union, approvedAt: this.o.clock() },
      { ttlSeconds: this.o.consentTtl },
    );
  }

  /** True when this user approved this client and redirect URI for at least these scopes. */
  async hasConsent(
    userId: string,
    clientId: string,
    redirectUri: string,
    scopes: string[],
  ): Promise<boolean> {
    const record = await this.o.store.get<ConsentRecord>(
      CONSENTS_NS,
      consentKey(userId, clientId, redirectUri),
    );
    return record !== undefined && scopes.every((s) => record.scopes.includes(s));
  }
}

function consentKey(userId: string, clientId: string, redirectUri: string): string {
  return JSON.stringify([userId, clientId, redirectUri]);
}
