// Token endpoint benchmark: refresh_token grants per second, portcullis gateway vs oidc-provider,
// side by side in one run.
//   node --import tsx bench/gateway/token.ts [--rounds 5] [--rotations 500] [--warmup 100]
//                                             [--chains 16] [--store sqlite|memory]
//                          [--servers gateway,oidc-builtin,oidc-builtin-unbounded,oidc-map,floor] [--prof dir]
// Every server gets `chains` grants (one sign-in each) and then `chains` concurrent rotating
// chains: each POSTs its current refresh token to /token and continues with the one it gets
// back, `rotations` times per round. Rounds run back to back on the same chains, so round k
// measures refreshes of grants that have already rotated (k-1)·rotations (+ warmup) times: a
// refresh that costs the same however often its grant rotated keeps the same rate every round.
// Servers are measured one at a time, in an order that rotates each round (drift on a shared
// VM hits all alike); each is its own process, bundled like the shipped build. A refresh answered
// invalid_grant means the server lost a live grant: counted, and the chain signs in again.
// `floor` (bare node:http, no state) is the ceiling any Node token endpoint could reach here.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { bundleServers } from './bundle.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    rotations: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '100' },
    chains: { type: 'string', default: '16' },
    store: { type: 'string', default: 'sqlite' },
    servers: { type: 'string', default: 'gateway,oidc-builtin,oidc-builtin-unbounded,oidc-map,floor' },
    /** Write a V8 CPU profile of each server into this directory (node --cpu-prof). */
    prof: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const rotations = Number(args.rotations);
const warmup = Number(args.warmup);
const chains = Number(args.chains);
const roles = args.servers.split(',').filter(Boolean);

const LABELS: Record<string, string> = {
  gateway: `portcullis gateway (${args.store === 'memory' ? 'memory store' : 'SQLite store'})`,
  'oidc-builtin': 'oidc-provider 9, built-in in-memory adapter',
  'oidc-builtin-unbounded': 'oidc-provider 9, built-in adapter, no LRU cap',
  'oidc-map': 'oidc-provider 9, Map adapter (test fixture)',
  floor: 'floor: bare node:http, random pair, no state',
};

// Readable names in a profile; the shipped build's minification otherwise.
const SERVERS = await bundleServers('bench/gateway/token-servers.ts', 'token-servers', {
  minify: !args.prof,
});

interface Stats {
  cpuUs: number;
  rssBytes: number;
}

interface Server {
  role: string;
  tokenUrl: URL;
  clientId: string;
  /** The current refresh token of each chain. */
  chains: string[];
  agent: http.Agent;
  stats(): Promise<Stats>;
  /** A fresh grant's refresh token, for a chain whose grant the server lost. */
  newGrant(): Promise<string>;
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
});

async function start(role: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      ...(args.prof
        ? ['--cpu-prof', `--cpu-prof-dir=${args.prof}`, `--cpu-prof-name=${role}.cpuprofile`]
        : []),
      SERVERS,
      role,
      String(chains),
      args.store === 'memory' ? 'memory:' : '',
    ],
    // oidc-provider prints "Unsupported runtime" on Node 20 once; let stderr through regardless.
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  /** The next protocol line; anything else the server prints (oidc-provider notices) goes to stderr. */
  const next = async (): Promise<unknown> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`${role} exited`);
      if (value.startsWith('@bench ')) return JSON.parse(value.slice(7));
      process.stderr.write(`[${role}] ${value}\n`);
    }
  };
  // One question to the child at a time: answers come back in order on one stdout.
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T>(question: () => Promise<T>): Promise<T> => {
    const answer = queue.then(question);
    queue = answer.catch(() => {});
    return answer;
  };
  const ready = (await next()) as { tokenUrl: string; clientId: string; refreshTokens: string[] };
  return {
    role,
    tokenUrl: new URL(ready.tokenUrl),
    clientId: ready.clientId,
    chains: ready.refreshTokens,
    agent: new http.Agent({ keepAlive: true, maxSockets: chains }),
    stats: () =>
      ask(async () => {
        child.stdin!.write('stats\n');
        return (await next()) as Stats;
      }),
    newGrant: () =>
      ask(async () => {
        child.stdin!.write('grant\n');
        return ((await next()) as { refreshToken: string }).refreshToken;
      }),
  };
}

/** The server answered invalid_grant: it lost (or revoked) the grant this chain was rotating. */
const LOST = Symbol('lost');

function refresh(server: Server, refreshToken: string): Promise<string | typeof LOST> {
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}&client_id=${encodeURIComponent(server.clientId)}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: server.tokenUrl.hostname,
        port: server.tokenUrl.port,
        path: server.tokenUrl.pathname,
        method: 'POST',
        agent: server.agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
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
          const next = JSON.parse(text || '{}') as { refresh_token?: string; error?: string };
          if (res.statusCode === 200 && next.refresh_token) resolve(next.refresh_token);
          else if (res.statusCode === 400 && next.error === 'invalid_grant') resolve(LOST);
          else reject(new Error(`${server.role}: HTTP ${res.statusCode} ${text}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface RoundResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRefresh: number;
  /** The load generator's own CPU (it shares the machine). */
  clientCpuUsPerRefresh: number;
  rssMiB: number;
  /** Refreshes answered invalid_grant: the server lost a live grant (the chain re-signed in). */
  lost: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `perChain` rotations on every chain at once; latencies of every request. */
async function runRound(server: Server, perChain: number): Promise<RoundResult> {
  // Fresh connections each round: a server closes keep-alive sockets idle for 5 s (while the
  // others are measured), and a request racing that close would fail.
  server.agent.destroy();
  server.agent = new http.Agent({ keepAlive: true, maxSockets: chains });
  const latencies = new Float64Array(perChain * server.chains.length);
  let n = 0;
  let lost = 0;
  const before = await server.stats();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    server.chains.map(async (_, i) => {
      for (let k = 0; k < perChain; k++) {
        const start = performance.now();
        const next = await refresh(server, server.chains[i]!);
        latencies[n++] = performance.now() - start;
        if (next === LOST) {
          // Counted and reported; the chain goes on with a new grant (sign-in time included).
          lost++;
          server.chains[i] = await server.newGrant();
        } else server.chains[i] = next;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const after = await server.stats();
  latencies.sort();
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerRefresh: (after.cpuUs - before.cpuUs) / latencies.length,
    clientCpuUsPerRefresh: (client.user + client.system) / latencies.length,
    rssMiB: after.rssBytes / 2 ** 20,
    lost,
  };
}

const servers: Server[] = [];
for (const role of roles) servers.push(await start(role));

console.log(
  `# token endpoint: refresh_token grant, ${chains} concurrent rotating chains, ${rounds} rounds × ${rotations} rotations per chain (${(rotations * chains).toLocaleString('en')} refreshes per round per server), warmup ${warmup} per chain`,
);
console.log(
  `# node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; client and servers share the machine`,
);

// Warmup: JIT in every process, and the chains start a few rotations in.
for (const server of servers) if (warmup > 0) await runRound(server, warmup);

const results = new Map<string, RoundResult[]>(roles.map((r) => [r, []]));
for (let round = 0; round < rounds; round++) {
  const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
  for (const server of order) results.get(server.role)!.push(await runRound(server, rotations));
  const done = warmup + (round + 1) * rotations;
  console.log(`\nround ${round + 1} (each grant rotated ${done - rotations + 1}–${done} times)`);
  const gateway = results.get('gateway')?.[round];
  for (const role of roles) {
    const r = results.get(role)![round]!;
    const ratio =
      gateway && role !== 'gateway' && role !== 'floor'
        ? `  gateway ×${(gateway.rps / r.rps).toFixed(2)}`
        : '';
    console.log(
      `  ${LABELS[role]!.padEnd(46)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  ${r.cpuUsPerRefresh.toFixed(0).padStart(5)} µs CPU/refresh (client ${r.clientCpuUsPerRefresh.toFixed(0)})  rss ${r.rssMiB.toFixed(0)} MiB${ratio}${r.lost ? `  LOST ${r.lost} live grants (invalid_grant)` : ''}`,
    );
  }
}

console.log('\nsummary (req/s per round; last/first shows decay)');
for (const role of roles) {
  const rs = results.get(role)!;
  const first = rs[0]!.rps;
  const last = rs.at(-1)!.rps;
  console.log(
    `  ${LABELS[role]!.padEnd(46)} ${rs.map((r) => r.rps.toFixed(0).padStart(6)).join(' ')}   last/first ${(last / first).toFixed(2)}`,
  );
}
const gw = results.get('gateway');
if (gw) {
  for (const role of roles.filter((r) => r !== 'gateway' && r !== 'floor')) {
    const other = results.get(role)!;
    const ratios = gw.map((g, i) => g.rps / other[i]!.rps);
    console.log(
      `  gateway / ${role}: ${ratios.map((x) => x.toFixed(2)).join(' ')}  (min ${Math.min(...ratios).toFixed(2)}, target ≥ 2)`,
    );
  }
}
// Closing stdin lets each server shut down and exit on its own (and write a --cpu-prof profile).
for (const server of servers) server.agent.destroy();
await Promise.all(
  children.map((child) => {
    const exited = once(child, 'exit');
    child.stdin!.end();
    return exited;
  }),
);
