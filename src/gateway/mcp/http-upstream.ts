/**
 * HTTP upstream: a streaming reverse proxy from the gateway's MCP path to an HTTP MCP server
 * (Streamable HTTP: POST answered as JSON or SSE, GET streams, DELETE). Responses are piped chunk
 * by chunk, never buffered. The upstream leg is node:http `request` on a keep-alive agent (the
 * issue measured `fetch` there at 3.5× the CPU). See docs/decisions/0020-gateway-proxy.md.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { OAuthError } from '../../oauth/errors.js';
import { type Logger, silentLogger } from '../../logger.js';
import { DEFAULT_MAX_BODY_BYTES, parseJsonRpcBody, readNodeBody, readWebBody } from './body.js';
import { type HeaderRecord, identityHeaders, requestHeaderFilter, responseHeaderFilter } from './headers.js';
import { type JsonRpcId, McpHttpError, SERVER_ERROR, SESSION_NOT_FOUND } from './jsonrpc.js';
import { isNullBodyStatus, toHeaderPairs, toWebStream } from './node-stream.js';
import { badGateway, errorToResponse, writeNodeError } from './render.js';
import { type HeaderGetter, protocolEra, validateStatelessMetadata } from './request-metadata.js';
import { createSessionBinding } from './session-binding.js';
import type { McpEndpoint, McpPrincipal } from './types.js';

export interface HttpUpstreamOptions {
  /** The MCP server's Streamable HTTP endpoint. */
  url: string | URL;
  /**
   * What the upstream gets in `Authorization` — never the client's token (R14):
   * the user's upstream IdP access token, the static `headers`, or nothing.
   */
  credential: 'upstream-token' | 'static' | 'none';
  /** Static headers for every upstream request (the credential itself when `credential: 'static'`). */
  headers?: Record<string, string>;
  /** Send `X-Portcullis-User`, `-Client`, `-Scopes`. Default true. */
  identityHeaders?: boolean;
  /** Extra request headers to pass through besides the MCP ones (never Authorization or Cookie). */
  forwardHeaders?: string[];
  /** Agent for the upstream leg; default a keep-alive agent owned (and closed) by the endpoint. */
  agent?: http.Agent;
  /** POST body limit (413 beyond it). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Bind upstream session ids to the user who created them (R18). Default true. */
  bindSessions?: boolean;
  /** HMAC key for session binding; replicas must share it. Default: random per process. */
  sessionSecret?: Uint8Array;
  /** How long `close()` waits for in-flight POSTs before cutting them. Default 5 s. */
  drainTimeoutMs?: number;
  logger?: Logger;
}

interface Prepared {
  method: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer | undefined;
  userId: string;
  replyId: JsonRpcId | null;
  bindResponseSession: boolean;
}

type ReadBody = (limit: number) => Promise<Buffer>;

interface InFlight {
  upReq: http.ClientRequest;
  /** A GET stream: open until someone ends it, so shutdown cuts it rather than waits. */
  stream: boolean;
  closed: Promise<void>;
}

const ALLOWED_METHODS = 'GET, POST, DELETE';

export function createHttpUpstream(opts: HttpUpstreamOptions): McpEndpoint {
  const url = new URL(opts.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`MCP upstream must be an http(s) URL, not ${url.protocol}`);
  }
  const staticHeaders = lowerCaseKeys(opts.headers ?? {});
  if (opts.credential === 'static' && Object.keys(staticHeaders).length === 0) {
    throw new TypeError("credential 'static' needs the credential in `headers`");
  }
  if (opts.credential !== 'static' && 'authorization' in staticHeaders) {
    throw new TypeError(`an Authorization header in \`headers\` needs credential 'static'`);
  }
  const logger = opts.logger ?? silentLogger;
  const forward = requestHeaderFilter(opts.forwardHeaders);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const sendIdentity = opts.identityHeaders ?? true;
  const binding = (opts.bindSessions ?? true) ? createSessionBinding(opts.sessionSecret) : undefined;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 5000;
  const requestFn = url.protocol === 'https:' ? https.request : http.request;
  const ownAgent = opts.agent
    ? undefined
    : new (url.protocol === 'https:' ? https.Agent : http.Agent)({
        keepAlive: true,
        scheduling: 'lifo',
        noDelay: true,
      });
  const target: http.RequestOptions = {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port || undefined,
    path: url.pathname + url.search,
    agent: opts.agent ?? ownAgent,
  };
  const upstreamName = url.origin;
  const inFlight = new Set<InFlight>();
  let closing = false;

  async function prepare(
    method: string,
    header: HeaderGetter,
    headerNames: Iterable<string>,
    readBody: ReadBody,
    principal: McpPrincipal,
  ): Promise<Prepared> {
    if (closing) throw new McpHttpError(503, SERVER_ERROR, 'the gateway is shutting down');
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      throw new McpHttpError(405, SERVER_ERROR, 'Method not allowed', { headers: { allow: ALLOWED_METHODS } });
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const name of headerNames) {
      if (forward(name)) headers[name] = header(name);
    }
    const version = header('mcp-protocol-version');
    const era = protocolEra(version);
    let body: Buffer | undefined;
    let replyId: JsonRpcId | null = null;
    if (method === 'POST') {
      body = await readBody(maxBodyBytes);
      const parsed = parseJsonRpcBody(body); // R16: malformed JSON is a 400 here, not upstream
      replyId = parsed.replyId;
      if (era === 'stateless') validateStatelessMetadata(header, version!, parsed);
      headers['content-length'] = body.length;
    }
    if (era === 'stateless') {
      // T5: 2026 requests carry no session and are not resumable.
      delete headers['mcp-session-id'];
      delete headers['last-event-id'];
    } else if (binding && typeof headers['mcp-session-id'] === 'string') {
      const upstreamId = binding.unwrap(headers['mcp-session-id'], principal.userId);
      // R18: another user's (or a forged) session id is unknown here.
      if (!upstreamId) throw new McpHttpError(404, SESSION_NOT_FOUND, 'Session not found', { id: replyId });
      headers['mcp-session-id'] = upstreamId;
    }
    Object.assign(headers, staticHeaders);
    if (opts.credential === 'upstream-token') headers['authorization'] = `Bearer ${await upstreamToken(principal)}`;
    if (sendIdentity) Object.assign(headers, identityHeaders(principal));
    return {
      method,
      headers,
      body,
      userId: principal.userId,
      replyId,
      bindResponseSession: binding !== undefined && era !== 'stateless',
    };
  }

  /** Starts the upstream request; the caller wires 'response' and 'error'. */
  function send(p: Prepared): http.ClientRequest {
    const upReq = requestFn({ ...target, method: p.method, headers: p.headers });
    const entry: InFlight = {
      upReq,
      stream: p.method === 'GET',
      closed: new Promise((resolve) => upReq.once('close', resolve)),
    };
    inFlight.add(entry);
    upReq.once('close', () => inFlight.delete(entry));
    upReq.end(p.body);
    return upReq;
  }

  /** Status and headers for the client, or an error to answer instead. */
  function translate(p: Prepared, upRes: http.IncomingMessage): { status: number; headers: HeaderRecord } {
    const status = upRes.statusCode ?? 502;
    if (status === 401 || status < 200 || status > 599) {
      // The upstream refused the gateway's credential: the client's token is fine, so no challenge.
      upRes.resume();
      logger.warn({ upstream: upstreamName, status }, 'MCP upstream refused the request');
      throw badGateway(`the MCP server answered ${status} to the gateway`);
    }
    const keep = responseHeaderFilter(upRes.headers.connection);
    const headers: HeaderRecord = {};
    for (const [name, value] of toHeaderPairs(upRes.headers)) {
      if (!keep(name)) continue;
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const sessionId = headers['mcp-session-id'];
    if (sessionId && binding && p.bindResponseSession) headers['mcp-session-id'] = binding.wrap(sessionId, p.userId);
    if (headers['content-type']?.startsWith('text/event-stream')) headers['x-accel-buffering'] = 'no';
    return { status, headers };
  }

  async function upstreamToken(principal: McpPrincipal): Promise<string> {
    let token: string | undefined;
    try {
      token = await principal.upstreamAccessToken();
    } catch (cause) {
      throw new OAuthError('invalid_token', 'the upstream sign-in could not be refreshed', { cause });
    }
    if (!token) throw new OAuthError('invalid_token', 'the upstream sign-in has expired; sign in again');
    return token;
  }

  function upstreamFailed(err: Error): McpHttpError {
    logger.warn({ upstream: upstreamName, err: err.message }, 'MCP upstream request failed');
    return badGateway(`the MCP server at ${upstreamName} could not be reached`, err);
  }

  return {
    async handle(request, principal) {
      let prepared: Prepared;
      try {
        prepared = await prepare(
          request.method,
          (name) => request.headers.get(name) ?? undefined,
          request.headers.keys(),
          (limit) => readWebBody(request, limit),
          principal,
        );
      } catch (err) {
        return errorToResponse(err);
      }
      return new Promise<Response>((resolve) => {
        const upReq = send(prepared);
        const onAbort = () => upReq.destroy();
        request.signal.addEventListener('abort', onAbort, { once: true });
        upReq.once('close', () => request.signal.removeEventListener('abort', onAbort));
        upReq.on('response', (upRes) => {
          try {
            const { status, headers } = translate(prepared, upRes);
            if (isNullBodyStatus(status)) upRes.resume();
            const body = isNullBodyStatus(status) ? null : toWebStream(upRes);
            resolve(new Response(body, { status, headers }));
          } catch (err) {
            resolve(errorToResponse(err));
          }
        });
        upReq.on('error', (err) => resolve(errorToResponse(upstreamFailed(err))));
      });
    },

    async handleNode(req, res, principal) {
      let prepared: Prepared;
      try {
        prepared = await prepare(
          req.method ?? 'GET',
          (name) => headerString(req.headers[name]),
          Object.keys(req.headers),
          (limit) => readNodeBody(req, limit),
          principal,
        );
      } catch (err) {
        writeNodeError(res, err);
        return;
      }
      const upReq = send(prepared);
      res.on('close', () => {
        if (!res.writableFinished) upReq.destroy(); // client gone: abort the upstream leg
      });
      upReq.on('response', (upRes) => {
        let translated: { status: number; headers: HeaderRecord };
        try {
          translated = translate(prepared, upRes);
        } catch (err) {
          writeNodeError(res, err);
          return;
        }
        res.writeHead(translated.status, translated.headers);
        if (translated.headers['content-length'] === undefined) res.flushHeaders(); // streams start now
        upRes.on('error', () => res.destroy());
        res.on('close', () => upRes.destroy());
        upRes.pipe(res);
      });
      upReq.on('error', (err) => {
        if (res.headersSent) res.destroy();
        else writeNodeError(res, upstreamFailed(err));
      });
    },

    async close() {
      closing = true;
      for (const entry of inFlight) if (entry.stream) entry.upReq.destroy();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainTimeoutMs);
      });
      await Promise.race([Promise.all([...inFlight].map((e) => e.closed)), deadline]);
      clearTimeout(timer);
      for (const entry of inFlight) entry.upReq.destroy();
      ownAgent?.destroy();
    },
  };
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function lowerCaseKeys(headers: Record<string, string>): HeaderRecord {
  const out: HeaderRecord = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
