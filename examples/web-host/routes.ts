/**
 * The web host's routes as one `(Request) => Promise<Response>`: the JSON API the page calls, the
 * popup's `/connect` (→ `beginLogin`) and `/oauth/callback` (→ `completeLogin`). The user id comes
 * from the signed session cookie only, never from a request body or URL. Errors are rendered in
 * one place, `errorResponse`.
 */

import { z } from 'zod';
import { ClientError } from '../../src/client/errors.js';
import type { ConnectionManager } from '../../src/client/manager.js';
import type { ServerStatus, ServerStatusKind } from '../../src/client/manager-status.js';
import type { Logger } from '../../src/logger.js';
import { McpRequestError, TransportError } from '../../src/transport/errors.js';
import { BASE_HEADERS, popupResultPage, staticFile } from './pages.js';
import { isOwnNavigation, type Session, type Sessions, userIdSchema } from './session.js';

/** A server the host offers its users (from MCP_SERVERS). */
export interface CatalogueServer {
  id: string;
  name?: string;
  url: string;
}

export interface ServerRow {
  id: string;
  name: string;
  url: string;
  status: ServerStatusKind | 'not-added';
  error?: { code: string; message: string };
}

interface RouteDeps {
  /** The app's own origin, e.g. `https://app.example.com`. */
  origin: string;
  manager: ConnectionManager;
  sessions: Sessions;
  servers: readonly CatalogueServer[];
  logger: Logger;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const signInSchema = z.object({ user: userIdSchema });
const callSchema = z.object({
  tool: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()).default({}),
});
const SERVER_ID = /^[a-z0-9-]{1,40}$/;
const SERVER_ROUTE = /^\/api\/servers\/([a-z0-9-]{1,40})\/(add|call|remove)$/;

export function createWebHostHandler(deps: RouteDeps): (request: Request) => Promise<Response> {
  const { origin, manager, sessions, servers, logger } = deps;

  function catalogueEntry(id: string | null): CatalogueServer {
    const found = servers.find((s) => s.id === id);
    if (!found) throw new HttpError(404, 'unknown_server', 'no such server is offered here');
    return found;
  }

  function requireSession(request: Request): Session {
    const session = sessions.read(request);
    if (!session) throw new HttpError(401, 'signed_out', 'sign in first');
    return session;
  }

  /** A signed-in user's state-changing request: CSRF token and Origin checked. */
  function requireUnsafe(request: Request): Session {
    const session = requireSession(request);
    const refusal = sessions.refuseUnsafe(request, session);
    if (refusal) throw new HttpError(403, 'csrf', refusal);
    return session;
  }

  async function rows(userId: string): Promise<ServerRow[]> {
    const statuses = new Map<string, ServerStatus>(
      (await manager.list(userId)).map((s) => [s.key.serverId, s]),
    );
    return servers.map((server) => {
      const status = statuses.get(server.id);
      return {
        id: server.id,
        name: server.name ?? server.id,
        url: server.url,
        status: status?.status ?? 'not-added',
        ...(status?.error ? { error: status.error } : {}),
      };
    });
  }

  async function serverAction(request: Request, serverId: string, action: string): Promise<Response> {
    const { userId } = requireUnsafe(request);
    const server = catalogueEntry(serverId);
    const key = { userId, serverId };
    if (action === 'add') {
      await manager.addServer({ ...key, url: server.url });
      return json({ servers: await rows(userId) });
    }
    if (action === 'call') {
      const { tool, arguments: args } = await parseBody(request, callSchema);
      return json({ result: await manager.callTool(key, tool, args) });
    }
    const { revocation } = await manager.removeServer(key);
    logger.info({ serverId, revocation: revocation.status }, 'server removed');
    return json({ revocation, servers: await rows(userId) });
  }

  /** The popup's first page: begins the login and sends the popup on to the AS; a failure is told to the opener. */
  async function connect(request: Request, url: URL): Promise<Response> {
    const serverId = url.searchParams.get('server') ?? undefined;
    try {
      const { userId } = requireSession(request);
      if (!isOwnNavigation(request))
        throw new HttpError(403, 'csrf', 'a login can only be started from this site');
      const server = catalogueEntry(serverId ?? null);
      const { authorizationUrl } = await manager.beginLogin({ userId, serverId: server.id });
      return new Response(null, { status: 303, headers: { ...BASE_HEADERS, location: authorizationUrl } });
    } catch (err) {
      if (!(err instanceof HttpError || err instanceof ClientError)) throw err;
      logger.warn({ serverId, code: err.code }, 'login not begun');
      const failed = { type: 'portcullis:failed', code: err.code, message: err.message } as const;
      return popupResultPage(
        serverId && SERVER_ID.test(serverId) ? { ...failed, serverId } : failed,
        err instanceof HttpError ? err.status : 502,
      );
    }
  }

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const { pathname } = url;
    const method = request.method;

    if (method === 'GET') {
      const file = await staticFile(pathname);
      if (file) return file;
    }
    if (pathname === '/api/session' && method === 'GET') {
      const session = sessions.read(request);
      return json(
        session ? { user: session.userId, csrfToken: sessions.csrfToken(session) } : { user: null },
      );
    }
    if (pathname === '/api/session' && method === 'POST') {
      // No session yet, so no token to check: the Origin alone stops a cross-site sign-in (login CSRF).
      if (request.headers.get('origin') !== origin)
        throw new HttpError(403, 'csrf', 'the request does not come from this site');
      const { user } = await parseBody(request, signInSchema);
      const { session, setCookie } = sessions.issue(user);
      return json({ user, csrfToken: sessions.csrfToken(session) }, 200, { 'set-cookie': setCookie });
    }
    if (pathname === '/api/session/end' && method === 'POST') {
      requireUnsafe(request);
      return json({ user: null }, 200, { 'set-cookie': sessions.clearCookie() });
    }
    if (pathname === '/api/servers' && method === 'GET') {
      return json({ servers: await rows(requireSession(request).userId) });
    }
    const action = SERVER_ROUTE.exec(pathname);
    if (action && method === 'POST') return serverAction(request, action[1]!, action[2]!);

    if (pathname === '/connect' && method === 'GET') return connect(request, url);
    if (pathname === '/oauth/callback' && method === 'GET') {
      const session = sessions.read(request);
      if (!session) {
        return popupResultPage(
          {
            type: 'portcullis:failed',
            code: 'signed_out',
            message: 'You are signed out; sign in and try again.',
          },
          401,
        );
      }
      try {
        const { key } = await manager.completeLogin({ userId: session.userId, callbackUrl: url });
        logger.info({ serverId: key.serverId }, 'login completed');
        return popupResultPage({ type: 'portcullis:connected', serverId: key.serverId });
      } catch (err) {
        if (!(err instanceof ClientError)) throw err;
        logger.warn({ code: err.code }, 'login failed');
        return popupResultPage({ type: 'portcullis:failed', code: err.code, message: err.message }, 400);
      }
    }
    throw new HttpError(404, 'not_found', 'not found');
  }

  /** The one place errors become responses; a message is shown only for errors meant for people. */
  function errorResponse(err: unknown): Response {
    if (err instanceof HttpError)
      return json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof ClientError) {
      const status =
        err.code === 'reauth_required' || err.code === 'authorization_required'
          ? 409
          : err.code === 'unknown_server'
            ? 404
            : err.code === 'store_unavailable'
              ? 503
              : 502;
      return json({ error: { code: err.code, message: err.message } }, status);
    }
    if (err instanceof McpRequestError || err instanceof TransportError) {
      return json({ error: { code: 'mcp_error', message: err.message } }, 502);
    }
    logger.error({ err: err instanceof Error ? err.name : typeof err }, 'request failed');
    return json({ error: { code: 'internal', message: 'something went wrong' } }, 500);
  }

  return async (request) => {
    try {
      return await route(request);
    } catch (err) {
      return errorResponse(err);
    }
  };
}

async function parseBody<T>(request: Request, schema: z.ZodType<T>): Promise<T> {
  if (!(request.headers.get('content-type') ?? '').startsWith('application/json'))
    throw new HttpError(415, 'bad_request', 'send application/json');
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    throw new HttpError(400, 'bad_request', 'the body is not JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new HttpError(400, 'bad_request', z.prettifyError(parsed.error));
  return parsed.data;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
