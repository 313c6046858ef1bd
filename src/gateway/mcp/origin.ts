/**
 * DNS-rebinding defence for the MCP path (T1; transports §Security Warning): a present Origin
 * must be one the gateway serves or was configured to allow (403 with a JSON-RPC error without
 * id otherwise), and the Host must name the gateway itself (421 otherwise), so a page on
 * `evil.example` that re-points its name at the gateway's address gets nowhere.
 * The gateway may run it before authentication, or wrap the endpoint with `withOriginPolicy`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackHost } from '../../oauth/url-rules.js';
import { McpHttpError, SERVER_ERROR } from './jsonrpc.js';
import { errorToResponse, writeNodeError } from './render.js';
import type { McpEndpoint } from './types.js';

export interface OriginPolicyOptions {
  /** The gateway's public MCP URL; its origin and host are always allowed. */
  publicUrl: string | URL;
  /** More browser origins allowed to call /mcp (the same list the gateway's CORS uses). */
  allowedOrigins?: string[];
  /** More Host values the gateway answers to, e.g. `mcp.internal:8080` behind a proxy. */
  allowedHosts?: string[];
}

export interface OriginPolicy {
  /** The refusal for these headers, or undefined when they pass. */
  check(origin: string | undefined, host: string | undefined): McpHttpError | undefined;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** `scheme://host[:port]`, lower-cased, default port dropped; undefined if not an origin. */
function normalizeOrigin(value: string): string | undefined {
  if (value === 'null') return undefined; // opaque origin: sandboxed frame, file:, data:
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** `host[:port]` lower-cased, default port (for the public URL's scheme) dropped. */
function normalizeHost(value: string, scheme: string): string {
  const host = value.trim().toLowerCase();
  const port = DEFAULT_PORTS[scheme];
  return port && host.endsWith(`:${port}`) ? host.slice(0, -port.length - 1) : host;
}

export function createOriginPolicy(opts: OriginPolicyOptions): OriginPolicy {
  const publicUrl = new URL(opts.publicUrl);
  const scheme = publicUrl.protocol;
  const origins = new Set<string>([publicUrl.origin]);
  for (const o of opts.allowedOrigins ?? []) {
    const normalized = normalizeOrigin(o);
    if (!normalized) throw new TypeError(`allowedOrigins: ${o} is not an http(s) origin`);
    origins.add(normalized);
  }
  const hosts = new Set<string>([normalizeHost(publicUrl.host, scheme)]);
  for (const h of opts.allowedHosts ?? []) hosts.add(normalizeHost(h, scheme));
  // A loopback gateway answers to each loopback spelling of its own port (RFC 8252 §8.3 names).
  if (isLoopbackHost(publicUrl.hostname)) {
    const port = publicUrl.port ? `:${publicUrl.port}` : '';
    for (const name of ['localhost', '127.0.0.1', '[::1]']) hosts.add(`${name}${port}`);
  }

  return {
    check(origin, host) {
      // T1: validate Origin when present; a non-browser client sends none.
      if (origin !== undefined) {
        const normalized = normalizeOrigin(origin);
        if (!normalized || !origins.has(normalized)) {
          return new McpHttpError(403, SERVER_ERROR, `Forbidden: origin ${origin} is not allowed`);
        }
      }
      if (host === undefined || !hosts.has(normalizeHost(host, scheme))) {
        return new McpHttpError(
          421,
          SERVER_ERROR,
          `Misdirected Request: host ${host ?? '(none)'} is not served here`,
        );
      }
      return undefined;
    },
  };
}

/** Wraps an endpoint so every request passes the policy first (both the fetch and node paths). */
export function withOriginPolicy(endpoint: McpEndpoint, policy: OriginPolicy): McpEndpoint {
  const wrapped: McpEndpoint = {
    async handle(request, principal) {
      const refusal = policy.check(
        request.headers.get('origin') ?? undefined,
        request.headers.get('host') ?? new URL(request.url).host,
      );
      return refusal ? errorToResponse(refusal) : endpoint.handle(request, principal);
    },
    close: () => endpoint.close(),
  };
  const handleNode = endpoint.handleNode?.bind(endpoint);
  if (handleNode) {
    wrapped.handleNode = async (req: IncomingMessage, res: ServerResponse, principal) => {
      const origin = req.headers.origin;
      const refusal = policy.check(origin, req.headers.host);
      if (refusal) {
        req.resume();
        writeNodeError(res, refusal);
        return;
      }
      return handleNode(req, res, principal);
    };
  }
  return wrapped;
}
