/**
 * HTTP upstream: a streaming reverse proxy from the gateway's MCP path to an HTTP MCP server
 * (Streamable HTTP: POST answered as JSON or SSE, GET streams, DELETE). Responses are relayed
 * chunk by chunk, never buffered. The upstream leg is the gateway's own HTTP/1.1 client on
 * keep-alive connections (`upstream-connections.ts`). See docs/decisions/0020-gateway-proxy.md
 * and 0022-gateway-upstream-http1.md.
 */
import { type Logger, silentLogger } from '../../logger.js';
import { DEFAULT_MAX_BODY_BYTES, parseJsonRpcBody, readNodeBody, readWebBody } from './body.js';
import { forwardableResponseHeaders, identityHeaders, requestHeaderFilter } from './headers.js';
import type { ResponseHead } from './http1-response.js';
import { type JsonRpcId, McpHttpError, SERVER_ERROR, SESSION_NOT_FOUND } from './jsonrpc.js';
import { badGateway, errorToResponse, writeNodeError } from './render.js';
import { type HeaderGetter, protocolEra, validateStatelessMetadata } from './request-metadata.js';
import { NodeRelay, type Relay, type Translate, WebRelay } from './response-relay.js';
import { createSessionBinding } from './session-binding.js';
import type { McpEndpoint, McpPrincipal } from './types.js';
import { createUpstreamConnections, type UpstreamTlsOptions } from './upstream-connections.js';
import { requireUpstreamToken } from './upstream-token.js';

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
  /** TLS settings for an https upstream: a private CA, a client certificate. */
  tls?: UpstreamTlsOptions;
  /** Idle keep-alive connections kept to the upstream. Default 256. */
  maxIdleConnections?: number;
  /** How long opening an upstream connection may take, TLS included (502 beyond it). Default 10 s. */
  connectTimeoutMs?: number;
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
  /** Flat `name, value, …`, written as the request head. */
  headers: string[];
  body: Buffer | undefined;
  userId: string;
  replyId: JsonRpcId | null;
  bindResponseSession: boolean;
}

type ReadBody = (limit: number) => Promise<Buffer>;

const ALLOWED_METHODS = 'GET, POST, DELETE';
/** How long a POST's SSE headers may wait for the first event before leaving alone. */
const POST_HEADERS_ALONE_MS = 25;

export function createHttpUpstream(opts: HttpUpstreamOptions): McpEndpoint {
  const url = new URL(opts.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`MCP upstream must be an http(s) URL, not ${url.protocol}`);
  }
  const staticHeaders = lowerCaseKeys(opts.headers ?? {});
  const staticNames = new Set(Object.keys(staticHeaders));
  const staticFlat = Object.entries(staticHeaders).flat();
  if (opts.credential === 'static' && staticNames.size === 0) {
    throw new TypeError("credential 'static' needs the credential in `headers`");
  }
  if (opts.credential !== 'static' && staticNames.has('authorization')) {
    throw new TypeError(`an Authorization header in \`headers\` needs credential 'static'`);
  }
  const logger = opts.logger ?? silentLogger;
  const forward = requestHeaderFilter(opts.forwardHeaders);
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const sendIdentity = opts.identityHeaders ?? true;
  const binding = (opts.bindSessions ?? true) ? createSessionBinding(opts.sessionSecret) : undefined;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 5000;
  const connections = createUpstreamConnections({
    url,
    tls: opts.tls,
    maxIdle: opts.maxIdleConnections,
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  // URL getters are not free: read once, not per request.
  const { host } = url;
  const path = url.pathname + url.search;
  const upstreamName = url.origin;
  const inFlight = new Set<Relay>();
  /** GET streams stay open until someone ends them, so shutdown cuts them rather than waits. */
  const streams = new Set<Relay>();
  let drained: (() => void) | undefined;
  const settled = (relay: Relay) => {
    inFlight.delete(relay);
    streams.delete(relay);
    if (drained && inFlight.size === 0) drained();
  };
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
      throw new McpHttpError(405, SERVER_ERROR, 'Method not allowed', {
        headers: { allow: ALLOWED_METHODS },
      });
    }
    const version = header('mcp-protocol-version');
    const era = protocolEra(version);
    const stateless = era === 'stateless';
    const headers: string[] = ['host', host];
    let sessionId: string | undefined;
    for (const name of headerNames) {
      if (!forward(name) || staticNames.has(name)) continue;
      if (name === 'mcp-session-id') {
        if (!stateless) sessionId = header(name); // T5: a 2026 request carries no session
        continue;
      }
      if (stateless && name === 'last-event-id') continue; // T5: nor is it resumable
      headers.push(name, header(name)!);
    }
    let body: Buffer | undefined;
    let replyId: JsonRpcId | null = null;
    if (method === 'POST') {
      body = await readBody(maxBodyBytes);
      const parsed = parseJsonRpcBody(body); // R16: malformed JSON is a 400 here, not upstream
      replyId = parsed.replyId;
      if (stateless) validateStatelessMetadata(header, version!, parsed);
      headers.push('content-length', String(body.length));
    }
    if (sessionId !== undefined) {
      const upstreamId = binding ? binding.unwrap(sessionId, principal.userId) : sessionId;
      // R18: another user's (or a forged) session id is unknown here.
      if (!upstreamId) throw new McpHttpError(404, SESSION_NOT_FOUND, 'Session not found', { id: replyId });
      headers.push('mcp-session-id', upstreamId);
    }
    for (const h of staticFlat) headers.push(h);
    if (opts.credential === 'upstream-token') {
      headers.push('authorization', `Bearer ${await requireUpstreamToken(principal)}`);
    }
    if (sendIdentity) for (const h of identityHeaders(principal)) headers.push(h);
    return {
      method,
      headers,
      body,
      userId: principal.userId,
      replyId,
      bindResponseSession: binding !== undefined && !stateless,
    };
  }

  /** Sends `p` upstream through `relay`, which then answers the client. */
  function send(p: Prepared, relay: NodeRelay | WebRelay): void {
    inFlight.add(relay);
    if (p.method === 'GET') streams.add(relay);
    try {
      relay.exchange = connections.request(
        { method: p.method, path, headers: p.headers, body: p.body },
        relay,
      );
    } catch (err) {
      relay.error(err as Error); // a header value that cannot be written (checked before any byte)
    }
  }

  /** Status and flat headers for the client, or an error to answer instead. */
  function translate(p: Prepared, head: ResponseHead): ReturnType<Translate> {
    const { status } = head;
    if (status === 401 || status < 200 || status > 599) {
      // The upstream refused the gateway's credential: the client's token is fine, so no challenge.
      logger.warn({ upstream: upstreamName, status }, 'MCP upstream refused the request');
      throw badGateway(`the MCP server answered ${status} to the gateway`, undefined, p.replyId);
    }
    const headers = forwardableResponseHeaders(head.headers);
    let sse = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name === 'mcp-session-id' && binding && p.bindResponseSession) {
        headers[i + 1] = binding.wrap(headers[i + 1]!, p.userId);
      } else if (name === 'content-type') {
        sse = headers[i + 1]!.toLowerCase().startsWith('text/event-stream');
      }
    }
    if (sse) headers.push('x-accel-buffering', 'no');
    // A GET stream shows its headers at once; a POST's SSE answer waits briefly for its event.
    return { status, headers, headersAloneMs: sse && p.method === 'POST' ? POST_HEADERS_ALONE_MS : 0 };
  }

  function upstreamFailed(err: Error, p: Prepared): McpHttpError {
    logger.warn({ upstream: upstreamName, err: err.message }, 'MCP upstream request failed');
    return badGateway(`the MCP server at ${upstreamName} could not be reached`, err, p.replyId);
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
      const p = prepared;
      const relay = new WebRelay(
        (head) => translate(p, head),
        (err) => upstreamFailed(err, p),
        settled,
      );
      send(p, relay);
      request.signal.addEventListener('abort', () => relay.cut(), { once: true });
      return relay.response$;
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
      const p = prepared;
      const relay = new NodeRelay(
        res,
        (head) => translate(p, head),
        (err) => upstreamFailed(err, p),
        settled,
      );
      send(p, relay);
      res.on('close', () => {
        if (!res.writableFinished) relay.cut(); // client gone: abort the upstream leg (and its body)
      });
    },

    async close() {
      closing = true;
      for (const relay of streams) relay.cut();
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          drained = resolve;
          timer = setTimeout(resolve, drainTimeoutMs);
        });
        clearTimeout(timer);
        for (const relay of inFlight) relay.cut();
      }
      connections.close();
    },
  };
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
