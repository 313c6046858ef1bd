// Gateway MCP-side benchmark: `tools/call echo` through each front end, side by side in one run.
//   node --import tsx bench/gateway/run.ts [--calls 1000] [--warmup 1000] [--rounds 10] [--concurrency 16]
//                                           [--upstream sdk|trivial] [--client lean|node-http]
// Variants: direct to the SDK upstream; the real gateway (its own server, bearer check against
// SQLite, then the proxy); portcullis (a Map-based opaque-token check + handleNode);
// portcullis-fetch (same, through the fetch-style handle); http-proxy (static bearer check);
// a hand-written node:http pipe (static bearer check), the floor for any node:http proxy.
// Every variant is warmed up first (JIT in all processes), then measured in rounds whose order
// rotates, so drift on a shared VM hits every variant alike. Sessions are opened once per variant.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { bundleServers } from './bundle.js';
import {
  openSessions,
  percentile,
  type RunResult,
  runEcho,
  type Session,
  type Target,
  useClient,
} from './load.js';

const { values: args } = parseArgs({
  // node:util parseArgs: the options below, nothing else.
  options: {
    calls: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    upstream: { type: 'string', default: 'sdk' },
    client: { type: 'string', default: 'lean' },
  },
});
if (args.client !== 'lean' && args.client !== 'node-http') throw new Error('--client is lean or node-http');
useClient(args.client);
const calls = Number(args.calls);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);

const children: ChildProcess[] = [];

const SERVERS = await bundleServers('bench/gateway/servers.ts', 'servers');

interface Server {
  target: Target;
  /** CPU time the process has used so far, in µs. */
  cpu(): Promise<number>;
}

async function start(role: string, upstream = ''): Promise<Server> {
  const child = spawn(process.execPath, [SERVERS, role, upstream], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return {
    target: JSON.parse(line) as Target,
    cpu: async () => {
      child.stdin!.write('cpu\n');
      const [answer] = (await once(lines, 'line')) as [string];
      return Number(answer);
    },
  };
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
process.on('exit', stopAll);

// `--upstream trivial` swaps the SDK server for a near-free one, to show the proxies' own cost.
const upstream = await start(args.upstream === 'trivial' ? 'trivial-upstream' : 'upstream');
const fronts: [string, Server | undefined][] = [
  [args.upstream === 'trivial' ? 'direct (trivial server)' : 'direct (SDK server)', undefined],
  ['portcullis gateway (SQLite token check)', await start('gateway', upstream.target.url)],
  ['portcullis handleNode', await start('portcullis', upstream.target.url)],
  ['portcullis handle (fetch)', await start('portcullis-fetch', upstream.target.url)],
  ['http-proxy', await start('http-proxy', upstream.target.url)],
  ['node:http pipe (hand-written)', await start('node-pipe', upstream.target.url)],
];
const variants: { name: string; target: Target; proxy: Server | undefined; sessions: Session[] }[] = [];
for (const [name, proxy] of fronts) {
  const target = proxy?.target ?? upstream.target;
  variants.push({ name, target, proxy, sessions: await openSessions(target, concurrency) });
}

interface Round {
  run: RunResult;
  rps: number;
  /** Throughput over the direct variant's in the same round (adjacent in time). */
  ratio: number;
  proxyUs: number;
  upstreamUs: number;
  clientUs: number;
}
const rounds_ = new Map<string, Round[]>(variants.map((v) => [v.name, []]));
const t0 = Date.now();
for (const v of variants) await runEcho(v.target, v.sessions, warmup);
for (let round = 0; round < rounds; round++) {
  // Rotate the order: each variant runs first, second, … once every `variants.length` rounds.
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
  const measured = new Map<string, Omit<Round, 'ratio'>>();
  for (const v of order) {
    const before = {
      proxy: (await v.proxy?.cpu()) ?? 0,
      upstream: await upstream.cpu(),
      client: process.cpuUsage(),
    };
    const run = await runEcho(v.target, v.sessions, calls);
    const client = process.cpuUsage(before.client);
    const m = {
      run,
      rps: run.calls / run.seconds,
      proxyUs: (((await v.proxy?.cpu()) ?? 0) - before.proxy) / run.calls,
      upstreamUs: ((await upstream.cpu()) - before.upstream) / run.calls,
      clientUs: (client.user + client.system) / run.calls,
    };
    measured.set(v.name, m);
    const perCall = v.proxy ? `, proxy ${m.proxyUs.toFixed(0)} µs/call` : '';
    process.stderr.write(`round ${round + 1} ${v.name}: ${m.rps.toFixed(0)} req/s${perCall}\n`);
  }
  const directRps = measured.get(variants[0]!.name)!.rps;
  for (const [name, m] of measured) rounds_.get(name)!.push({ ...m, ratio: m.rps / directRps });
}

/** Medians over rounds, so one round disturbed by a neighbour on a shared VM does not decide. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summary(rs: Round[]) {
  const total = rs.reduce((n, r) => n + r.run.calls, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const r of rs) {
    all.set(r.run.latencies, at);
    at += r.run.latencies.length;
  }
  all.sort();
  return {
    rps: median(rs.map((r) => r.rps)),
    ratio: median(rs.map((r) => r.ratio)),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    proxyUs: median(rs.map((r) => r.proxyUs)),
    upstreamUs: median(rs.map((r) => r.upstreamUs)),
    clientUs: median(rs.map((r) => r.clientUs)),
    total,
  };
}

const direct = summary(rounds_.get(variants[0]!.name)!);
const rows = variants.map((v) => {
  const s = summary(rounds_.get(v.name)!);
  const added = s.p50 - direct.p50;
  return [
    v.name,
    s.rps.toFixed(0),
    `${s.ratio.toFixed(2)}×`,
    s.p50.toFixed(2),
    v === variants[0] ? '—' : `${added >= 0 ? '+' : ''}${added.toFixed(2)}`,
    s.p99.toFixed(2),
    v.proxy ? s.proxyUs.toFixed(0) : '—',
    s.upstreamUs.toFixed(0),
    s.clientUs.toFixed(0),
    String(s.total),
  ];
});
const header = [
  'variant',
  'req/s',
  'vs direct',
  'p50 ms',
  'added p50 ms',
  'p99 ms',
  'proxy CPU µs/call',
  'upstream µs/call',
  'client µs/call',
  'calls',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(
  `\ntools/call echo, ${args.client} load client, concurrency ${concurrency}, ${rounds} rounds × ${calls} calls per variant (+${warmup} warm-up); ` +
    'req/s, ratio and CPU are medians over rounds, latencies over all calls; ' +
    `${cpus().length} CPUs, node ${process.version}, ${((Date.now() - t0) / 1000).toFixed(0)} s, ` +
    `load average ${loadavg()[0]!.toFixed(1)}\n`,
);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
stopAll();
