/**
 * Stdio upstream: one child process per MCP session (2025-11-25 Streamable HTTP on the client
 * side, newline-delimited JSON-RPC on the child's stdin/stdout). The child is spawned without a
 * shell on `initialize`; the gateway mints the `Mcp-Session-Id` and keys the session by user
 * (R18). DELETE, idle timeout and `close()` reap it; a crashed child's session answers 404 so the
 * client re-initializes (T4). A template naming `{{upstream.access_token_file}}` gets the user's
 * upstream token as a file per session, rewritten when the token changes (checked on each request
 * to the session) and removed when the session ends.
 *
 * 2026-07-28 stateless requests are answered 400 `UnsupportedProtocolVersionError` listing the
 * session revisions: a stdio server needs the `initialize` handshake a stateless request lacks,
 * and the 2026 backward-compatibility rules make the client fall back to it.
 */
import { randomBytes } from 'node:crypto';
import { type Logger, silentLogger } from '../../logger.js';
import { DEFAULT_MAX_BODY_BYTES, parseJsonRpcBody, readNodeBody, readWebBody } from './body.js';
import { nodeChannel, type ResponseChannel, webChannel } from './channel.js';
import { compileEnvTemplate } from './env-template.js';
import { type AcceptedTypes, acceptedTypes } from './exchange.js';
import {
  INTERNAL_ERROR,
  INVALID_REQUEST,
  isRequest,
  type JsonRpcId,
  McpHttpError,
  SERVER_ERROR,
  SESSION_NOT_FOUND,
  UNSUPPORTED_PROTOCOL_VERSION,
} from './jsonrpc.js';
import { DEFAULT_MAX_LINE_BYTES } from './ndjson.js';
import { badGateway, writeNodeError } from './render.js';
import { type HeaderGetter, protocolEra, SESSION_PROTOCOL_VERSIONS } from './request-metadata.js';
import { StdioSession } from './stdio-session.js';
import { TokenFile } from './token-file.js';
import type { McpEndpoint, McpPrincipal } from './types.js';
import { requireUpstreamToken } from './upstream-token.js';

export interface StdioUpstreamOptions {
  /** The server command and its arguments; spawned directly, never through a shell. */
  command: string[];
  /**
   * Extra environment, templated per user: `{{user.id}}`, `{{claims.email}}`,
   * `{{upstream.access_token}}` (fixed at spawn), `{{upstream.access_token_file}}` (kept fresh)…
   */
  env?: Record<string, string>;
  /** Variables passed through from the gateway's own environment. Default: a minimal safe set. */
  inheritEnv?: string[];
  cwd?: string;
  /** A session with no request for this long is reaped. Default 15 min. */
  idleTimeoutMs?: number;
  /** Children alive at once (503 beyond). Default 100. */
  maxSessions?: number;
  /** Children per user at once. Default: `maxSessions`. */
  maxSessionsPerUser?: number;
  /** POST body limit (413 beyond it). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Longest stdout line accepted from a child; longer kills the session. Default 16 MiB. */
  maxLineBytes?: number;
  /** Wait after closing stdin before SIGTERM, and again before SIGKILL. Default 2 s. */
  killGraceMs?: number;
  logger?: Logger;
}

/** A live session, for metrics and admin pages (the session id stays out: it names the session). */
export interface StdioSessionInfo {
  userId: string;
  pid: number;
}

export interface StdioUpstream extends McpEndpoint {
  /** Sessions currently served, one child each. */
  sessions(): StdioSessionInfo[];
}

/** The gateway's secrets (store keys, IdP client secrets) stay out of a child's environment. */
const DEFAULT_INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TERM',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'SYSTEMROOT',
  'SystemRoot',
  'PATHEXT',
  'COMSPEC',
  'APPDATA',
  'LOCALAPPDATA',
  'USERPROFILE',
];

/** 256-bit session ids, base64url (R18: random and unguessable). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function createStdioUpstream(opts: StdioUpstreamOptions): StdioUpstream {
  if (opts.command.length === 0 || !opts.command[0]) throw new TypeError('command must name a program');
  const logger = opts.logger ?? silentLogger;
  const renderEnv = compileEnvTemplate(opts.env ?? {});
  const baseEnv: Record<string, string> = {};
  for (const name of opts.inheritEnv ?? DEFAULT_INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) baseEnv[name] = value;
  }
  const maxSessions = opts.maxSessions ?? 100;
  const maxPerUser = opts.maxSessionsPerUser ?? maxSessions;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  /** R18: `<userId>:<sessionId>`. */
  const sessions = new Map<string, StdioSession>();
  /** Every child not yet exited, including reaped ones still shutting down. */
  const live = new Set<StdioSession>();
  /** Sessions whose template names `{{upstream.access_token_file}}`, and their files. */
  const tokenFiles = new Map<StdioSession, TokenFile>();
  /** Token directories being removed, awaited by `close()`. */
  const removals = new Set<Promise<void>>();
  let starting = 0;
  const starts = new Set<Promise<unknown>>();
  let closing = false;

  const keyOf = (userId: string, id: string) => `${userId}:${id}`;

  function reap(session: StdioSession, why: string): void {
    const key = keyOf(session.userId, session.id);
    if (sessions.get(key) === session) sessions.delete(key);
    logger.info({ pid: session.pid, why }, 'reaping MCP session');
    dropTokenFile(session); // the session is over for its client: its token goes now
    void session.terminate();
  }

  function dropTokenFile(session: StdioSession): void {
    const file = tokenFiles.get(session);
    if (!file) return;
    tokenFiles.delete(session);
    discard(file, session.pid);
  }

  function discard(file: TokenFile, pid?: number): void {
    const removal = file
      .remove()
      .catch((err: unknown) =>
        logger.warn({ pid, err: (err as Error).message }, 'MCP session token file left behind'),
      )
      .finally(() => removals.delete(removal));
    removals.add(removal);
  }

  /** Rewrites the session's token file if the user's upstream token changed; never fails the request. */
  async function refreshTokenFile(session: StdioSession, file: TokenFile, principal: McpPrincipal) {
    try {
      await file.update(await requireUpstreamToken(principal));
    } catch (err) {
      logger.warn(
        { pid: session.pid, err: (err as Error).message },
        'could not refresh the upstream token file; the MCP server keeps the previous token',
      );
    }
  }

  /** `findSession`, after bringing the session's token file up to date when it has one. */
  async function currentSession(
    header: HeaderGetter,
    principal: McpPrincipal,
    replyId: JsonRpcId | null,
  ): Promise<StdioSession> {
    const session = findSession(header, principal, replyId);
    const file = tokenFiles.get(session);
    if (!file) return session;
    await refreshTokenFile(session, file, principal);
    return findSession(header, principal, replyId); // it may have ended meanwhile
  }

  function findSession(
    header: HeaderGetter,
    principal: McpPrincipal,
    replyId: JsonRpcId | null,
  ): StdioSession {
    const id = header('mcp-session-id');
    if (id === undefined) {
      // T4: without a session id the server SHOULD answer 400.
      throw new McpHttpError(400, SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required', {
        id: replyId,
      });
    }
    const session = SESSION_ID.test(id) ? sessions.get(keyOf(principal.userId, id)) : undefined;
    // T4/R18: ended, crashed, unknown, or another user's: 404, and the client re-initializes.
    if (!session?.alive || session.userId !== principal.userId) {
      throw new McpHttpError(404, SESSION_NOT_FOUND, 'Session not found', { id: replyId });
    }
    return session;
  }

  async function startSession(principal: McpPrincipal, replyId: JsonRpcId | null): Promise<StdioSession> {
    if (sessions.size + starting >= maxSessions) {
      throw new McpHttpError(503, SERVER_ERROR, 'too many MCP sessions; try again later', { id: replyId });
    }
    let mine = 0;
    for (const s of sessions.values()) if (s.userId === principal.userId) mine++;
    if (mine >= maxPerUser) {
      throw new McpHttpError(429, SERVER_ERROR, 'too many MCP sessions for this user', { id: replyId });
    }
    starting++;
    let file: TokenFile | undefined;
    try {
      if (renderEnv.usesTokenFile) file = await createTokenFile(principal, replyId);
      const env = { ...baseEnv, ...(await renderEnv(principal, file?.path)) };
      const id = randomBytes(32).toString('base64url');
      let session: StdioSession;
      try {
        session = await StdioSession.start({
          id,
          userId: principal.userId,
          command: opts.command,
          env,
          cwd: opts.cwd,
          maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
          killGraceMs: opts.killGraceMs ?? 2000,
          idleTimeoutMs: opts.idleTimeoutMs ?? 15 * 60_000,
          logger,
          onExit: (s) => {
            live.delete(s);
            const key = keyOf(s.userId, s.id);
            if (sessions.get(key) === s) sessions.delete(key);
            dropTokenFile(s);
          },
          onIdle: (s) => reap(s, 'idle'),
        });
      } catch (err) {
        logger.error(
          { command: opts.command[0], err: (err as Error).message },
          'could not start the MCP server',
        );
        throw badGateway('the MCP server could not be started', err, replyId);
      }
      live.add(session);
      sessions.set(keyOf(principal.userId, id), session);
      if (file) tokenFiles.set(session, file);
      file = undefined; // the session owns it now
      logger.info({ pid: session.pid }, 'MCP session started');
      return session;
    } finally {
      starting--;
      if (file) discard(file); // no child was started
    }
  }

  /** The token file a new session's child will read: the token comes first (401 without one). */
  async function createTokenFile(principal: McpPrincipal, replyId: JsonRpcId | null): Promise<TokenFile> {
    const token = await requireUpstreamToken(principal);
    try {
      return await TokenFile.create(token);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'could not create the MCP session token file');
      throw new McpHttpError(500, INTERNAL_ERROR, 'the MCP session could not be prepared', {
        cause: err,
        id: replyId,
      });
    }
  }

  async function serve(
    method: string,
    header: HeaderGetter,
    readBody: (limit: number) => Promise<Buffer>,
    channel: ResponseChannel,
    principal: McpPrincipal,
  ): Promise<void> {
    if (closing) throw new McpHttpError(503, SERVER_ERROR, 'the gateway is shutting down');
    const version = header('mcp-protocol-version');
    const era = protocolEra(version);
    if (era === 'stateless') {
      throw new McpHttpError(400, UNSUPPORTED_PROTOCOL_VERSION, 'Unsupported protocol version', {
        data: { supported: SESSION_PROTOCOL_VERSIONS, requested: version },
      });
    }
    if (era === 'unknown') {
      // T6: an unsupported MCP-Protocol-Version gets 400.
      throw new McpHttpError(400, SERVER_ERROR, `Bad Request: unsupported protocol version ${version}`);
    }
    const accept = acceptedTypes(header('accept'));
    if (method === 'POST') return post(header, readBody, channel, principal, accept);
    if (method === 'GET') {
      if (!accept.sse)
        throw new McpHttpError(406, SERVER_ERROR, 'Not Acceptable: GET needs text/event-stream');
      (await currentSession(header, principal, null)).listen(channel);
      return;
    }
    if (method === 'DELETE') {
      reap(findSession(header, principal, null), 'DELETE');
      channel.empty(200);
      return;
    }
    throw new McpHttpError(405, SERVER_ERROR, 'Method not allowed', {
      headers: { allow: 'GET, POST, DELETE' },
    });
  }

  async function post(
    header: HeaderGetter,
    readBody: (limit: number) => Promise<Buffer>,
    channel: ResponseChannel,
    principal: McpPrincipal,
    accept: AcceptedTypes,
  ): Promise<void> {
    if (!accept.json && !accept.sse) {
      throw new McpHttpError(
        406,
        SERVER_ERROR,
        'Not Acceptable: accept application/json or text/event-stream',
      );
    }
    const body = parseJsonRpcBody(await readBody(maxBodyBytes));
    const init = body.messages.some((m) => isRequest(m) && m.method === 'initialize');
    if (!init) {
      const session = await currentSession(header, principal, body.replyId);
      session.post(body.messages, body.batch, channel, accept);
      return;
    }
    if (body.messages.length > 1) {
      throw new McpHttpError(400, INVALID_REQUEST, 'Invalid Request: initialize must be sent alone', {
        id: null,
      });
    }
    const start = startSession(principal, body.replyId);
    starts.add(start);
    const session = await start.finally(() => starts.delete(start));
    if (closing) {
      reap(session, 'shutdown');
      throw new McpHttpError(503, SERVER_ERROR, 'the gateway is shutting down');
    }
    // T4: the gateway mints the session id and hands it out with the initialize result.
    session.post(body.messages, false, channel, accept, { 'mcp-session-id': session.id });
  }

  return {
    sessions: () => [...sessions.values()].map((s) => ({ userId: s.userId, pid: s.pid })),

    async handle(request, principal) {
      const { channel, response } = webChannel(request.signal, logger);
      try {
        await serve(
          request.method,
          (name) => request.headers.get(name) ?? undefined,
          (limit) => readWebBody(request, limit),
          channel,
          principal,
        );
      } catch (err) {
        if (!(err instanceof McpHttpError)) throw err;
        channel.error(err);
      }
      return response;
    },

    async handleNode(req, res, principal) {
      try {
        await serve(
          req.method ?? 'GET',
          (name) => {
            const v = req.headers[name];
            return Array.isArray(v) ? v.join(', ') : v;
          },
          (limit) => readNodeBody(req, limit),
          nodeChannel(res, logger),
          principal,
        );
      } catch (err) {
        writeNodeError(res, err);
      }
    },

    async close() {
      closing = true;
      for (const s of sessions.values()) reap(s, 'shutdown');
      await Promise.allSettled([...starts]);
      await Promise.all([...live].map((s) => s.terminate()));
      await Promise.all([...removals]);
    },
  };
}
