/**
 * The example's fake sign-in: the user picks a name and gets an HMAC-signed session cookie. No
 * password: it stands in for the host's real authentication, whose user id is what the
 * connection manager keys everything by. Also the request checks every state-changing route
 * needs: a CSRF token bound to the session, the Origin header, and Fetch Metadata.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const SESSION_COOKIE = 'webhost_session';
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export interface Session {
  userId: string;
  /** Random per sign-in: the CSRF token is derived from it, so it changes with every session. */
  sid: string;
  expiresAt: number;
}

/** What a user may call themselves here: short, printable, safe in any log line. */
export const userIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'a user name is 1–32 of a-z 0-9 . _ -');

const sessionSchema = z.object({ userId: userIdSchema, sid: z.string().min(16), expiresAt: z.number() });

export interface Sessions {
  /** A new session for `userId`, and the Set-Cookie header value that carries it. */
  issue(userId: string): { session: Session; setCookie: string };
  /** The request's session, when its cookie is present, authentic and not expired. */
  read(request: Request): Session | undefined;
  clearCookie(): string;
  csrfToken(session: Session): string;
  /**
   * Why a state-changing request must be refused, or undefined when it may proceed: its Origin
   * must be ours (a cross-site form or fetch carries another one), and it must carry the session's
   * CSRF token in `x-csrf-token` (a header a cross-origin page cannot set without our CORS consent).
   */
  refuseUnsafe(request: Request, session: Session): string | undefined;
}

export function createSessions(options: {
  secret: Uint8Array;
  origin: string;
  clock?: () => number;
}): Sessions {
  const { secret, origin } = options;
  const clock = options.clock ?? Date.now;
  const secure = origin.startsWith('https:');
  const mac = (label: string, value: string) =>
    createHmac('sha256', secret).update(`${label}\0${value}`).digest('base64url');
  const attributes = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;

  return {
    issue(userId) {
      const session: Session = {
        userId,
        sid: randomBytes(18).toString('base64url'),
        expiresAt: clock() + SESSION_TTL_MS,
      };
      const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
      const value = `${payload}.${mac('session', payload)}`;
      return {
        session,
        setCookie: `${SESSION_COOKIE}=${value}; ${attributes}; Max-Age=${SESSION_TTL_MS / 1000}`,
      };
    },

    read(request) {
      const value = cookieValue(request.headers.get('cookie'), SESSION_COOKIE);
      const [payload, signature] = value?.split('.') ?? [];
      if (!payload || !signature || !equal(signature, mac('session', payload))) return undefined;
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
      const parsed = sessionSchema.safeParse(decoded);
      if (!parsed.success || parsed.data.expiresAt <= clock()) return undefined;
      return parsed.data;
    },

    clearCookie: () => `${SESSION_COOKIE}=; ${attributes}; Max-Age=0`,

    csrfToken: (session) => mac('csrf', session.sid),

    refuseUnsafe(request, session) {
      if (request.headers.get('origin') !== origin) return 'the request does not come from this site';
      const token = request.headers.get('x-csrf-token') ?? '';
      if (!equal(token, mac('csrf', session.sid))) return 'the CSRF token is missing or wrong';
      return undefined;
    },
  };
}

/**
 * Fetch Metadata: a top-level navigation this site started (our page's `window.open`), or one the
 * user typed. A cross-site page opening /connect for the user would say `cross-site`.
 */
export function isOwnNavigation(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  return site === 'same-origin' || site === 'none';
}

function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
