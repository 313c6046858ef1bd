// A lean MCP load generator on node:http: per worker one 2025-11-25 session (initialize +
// notifications/initialized), then back-to-back `tools/call echo` POSTs, each response read to
// the end and checked. Lean on purpose: the SDK client's own CPU would hide the proxy's.
import * as http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Reply {
  status: number;
  sessionId: string | undefined;
  body: string;
}

function post(url: URL, headers: Record<string, string>, body: string, retry = true): Promise<Reply> {
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
        post(url, headers, body, false).then(resolve, reject);
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
