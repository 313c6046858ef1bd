// A small real HTTP server on 127.0.0.1:0 whose answers a test scripts request by request, for
// the wire behaviours a well-behaved SDK server never shows (drops, malformed frames, 404s, 405s).
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed JSON-RPC body of a POST, if it was JSON. */
  json: Record<string, unknown> | undefined;
}

export type Handler = (
  req: RecordedRequest,
  res: ServerResponse,
  raw: IncomingMessage,
) => void | Promise<void>;

export interface ScriptedServer {
  url: string;
  origin: string;
  requests: RecordedRequest[];
  /** Resolves with the first recorded request (past or future) matching `predicate`. */
  waitFor(predicate: (r: RecordedRequest) => boolean): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export async function startScriptedServer(handler: Handler, path = '/mcp'): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: Record<string, unknown> | undefined;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const record = { method: req.method ?? 'GET', headers: req.headers, body, json };
    requests.push(record);
    for (const w of waiters) w();
    try {
      await handler(record, res, req);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${path}`,
    origin,
    requests,
    waitFor: (predicate) =>
      new Promise((resolve) => {
        const check = () => {
          const found = requests.find(predicate);
          if (found) {
            waiters.delete(check);
            resolve(found);
          }
        };
        waiters.add(check);
        check();
      }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendJson(
  res: ServerResponse,
  body: unknown,
  headers: Record<string, string> = {},
  status = 200,
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function openSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  res.flushHeaders();
}

export function sseEvent(
  res: ServerResponse,
  data: unknown,
  opts: { id?: string; event?: string; retry?: number } = {},
) {
  let frame = '';
  if (opts.event) frame += `event: ${opts.event}\n`;
  if (opts.id) frame += `id: ${opts.id}\n`;
  if (opts.retry !== undefined) frame += `retry: ${opts.retry}\n`;
  frame += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
  res.write(frame);
}

/** A 2025-11-25 initialize result. */
export function initResult(id: unknown, protocolVersion = '2025-11-25') {
  return {
    jsonrpc: '2.0',
    id,
    result: { protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'scripted', version: '1' } },
  };
}
