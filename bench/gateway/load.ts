// A lean MCP load generator: per worker one 2025-11-25 session (initialize +
// notifications/initialized), then back-to-back `tools/call echo` POSTs, each response read to
// the end and checked. Lean on purpose: on a 2-core VM the load generator's own CPU competes
// with the proxy and the server it measures. Two clients:
//   lean      (default) one keep-alive connection per worker, the request head built once and
//             written in one syscall, the response read by a small HTTP/1.1 parser — the way
//             autocannon and wrk work (here the gateway's own upstream client, from src/);
//   node-http node:http `request` on a keep-alive agent, as earlier results were measured.
import * as http from 'node:http';
import {
  createUpstreamConnections,
  type UpstreamConnections,
} from '../../src/gateway/mcp/upstream-connections.js';

export type LoadClient = 'lean' | 'node-http';
let client: LoadClient = 'lean';

/** Picks the load generator's HTTP client for every later call. */
export function useClient(which: LoadClient): void {
  client = which;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const pools = new Map<string, UpstreamConnections>();

interface Reply {
  status: number;
  sessionId: string | undefined;
  body: string;
}

function post(url: URL, headers: Record<string, string>, body: string): Promise<Reply> {
  return client === 'lean' ? leanPost(url, headers, body) : nodePost(url, headers, body);
}

function leanPost(url: URL, headers: Record<string, string>, body: string): Promise<Reply> {
  let pool = pools.get(url.origin);
  if (!pool) {
    pool = createUpstreamConnections({ url });
    pools.set(url.origin, pool);
  }
  const payload = Buffer.from(body);
  const flat = [
    'host',
    url.host,
    'content-type',
    'application/json',
    'accept',
    'application/json, text/event-stream',
  ];
  for (const name in headers) flat.push(name, headers[name]!);
  flat.push('content-length', String(payload.length));
  return new Promise((resolve, reject) => {
    let status = 0;
    let sessionId: string | undefined;
    const chunks: Buffer[] = [];
    pool.request(
      { method: 'POST', path: url.pathname, headers: flat, body: payload },
      {
        response(head) {
          status = head.status;
          const i = head.headers.indexOf('mcp-session-id');
          if (i >= 0 && i % 2 === 0) sessionId = head.headers[i + 1];
        },
        data(chunk) {
          chunks.push(Buffer.from(chunk)); // a copy: the view is into the socket's read buffer
        },
        end: () => resolve({ status, sessionId, body: Buffer.concat(chunks).toString('utf8') }),
        error: reject,
      },
    );
  });
}

function nodePost(url: URL, headers: Record<string, string>, body: string, retry = true): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: {
          ...headers,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const sid = res.headers['mcp-session-id'];
          resolve({
            status: res.statusCode ?? 0,
            sessionId: typeof sid === 'string' ? sid : undefined,
            body: text,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A server closed an idle keep-alive socket as it was reused (between rounds): resend once.
      if (retry && req.reusedSocket && err.code === 'ECONNRESET')
        nodePost(url, headers, body, false).then(resolve, reject);
      else reject(err);
    });
    req.end(body);
  });
}

export interface Target {
  url: string;
  token: string;
}

export type Session = Record<string, string>;

async function openSession(target: Target): Promise<Session> {
  const url = new URL(target.url);
  const auth: Record<string, string> = target.token ? { authorization: `Bearer ${target.token}` } : {};
  const init = await post(
    url,
    auth,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  );
  if (init.status !== 200 || !init.sessionId)
    throw new Error(`initialize failed: ${init.status} ${init.body}`);
  const headers = { ...auth, 'mcp-session-id': init.sessionId, 'mcp-protocol-version': '2025-11-25' };
  const ack = await post(
    url,
    headers,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  );
  if (ack.status !== 202) throw new Error(`initialized failed: ${ack.status}`);
  return headers;
}

export interface RunResult {
  calls: number;
  seconds: number;
  /** Per-call latencies in milliseconds, sorted. */
  latencies: Float64Array;
}

/** One session per worker, opened once and reused by every run against this target. */
export function openSessions(target: Target, concurrency: number): Promise<Session[]> {
  return Promise.all(Array.from({ length: concurrency }, () => openSession(target)));
}

/** `calls` echo calls spread over the sessions, one worker each, back to back. */
export async function runEcho(target: Target, sessions: Session[], calls: number): Promise<RunResult> {
  const url = new URL(target.url);
  const latencies = new Float64Array(calls);
  let next = 0;
  const worker = async (headers: Record<string, string>) => {
    for (;;) {
      const i = next++;
      if (i >= calls) return;
      const body = `{"jsonrpc":"2.0","id":${i + 1},"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello ${i}"}}}`;
      const t0 = process.hrtime.bigint();
      const reply = await post(url, headers, body);
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
      if (reply.status !== 200 || !reply.body.includes(`hello ${i}`)) {
        throw new Error(`call ${i} failed: ${reply.status} ${reply.body.slice(0, 200)}`);
      }
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(sessions.map(worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort();
  return { calls, seconds, latencies };
}

export function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
