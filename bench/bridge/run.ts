/**
 * `portcullis connect` side by side with mcp-remote@0.15.1 and a direct SDK HTTP connection (the
 * floor), in one run, against the same real SDK MCP server (its own process, 127.0.0.1:0):
 * cold start to tools/list, echo tools/call p50/p99, 16-in-flight throughput, a 256 KiB result,
 * peak RSS of the bridge process, install footprint. Prints ratios; writes bench/bridge/RESULTS.md.
 *
 *   npm run bench:bridge            (COLD_RUNS=7 CALLS=2000 LOAD_CALLS=4000 BIG_RUNS=40 to tune)
 *
 * mcp-remote is installed under bench/.cache/bridge/ (git-ignored) on first use.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import {
  bigResults,
  coldStart,
  connect,
  countPackages,
  latency,
  median,
  npm,
  peakRss,
  quantile,
  sizeOf,
  type Target,
  throughput,
} from './measure.js';

const root = resolve(import.meta.dirname, '../..');
const cache = join(root, 'bench/.cache/bridge');
const env = process.env;
const COLD_RUNS = Number(env['COLD_RUNS'] ?? 7);
const CALLS = Number(env['CALLS'] ?? 2000);
const LOAD_CALLS = Number(env['LOAD_CALLS'] ?? 4000);
const BIG_RUNS = Number(env['BIG_RUNS'] ?? 40);
const BIG_BYTES = 256 * 1024;
const node = process.execPath;
const scratch = mkdtempSync(join(tmpdir(), 'portcullis-bench-bridge-'));
mkdirSync(cache, { recursive: true });
// The SDK's direct transport leaves one abort listener per request on a shared signal (undici drops
// it only at GC): measured as it is, but without a warning per request on the console.
setMaxListeners(1_000_000);

// --- the three targets ---------------------------------------------------------------------

async function portcullisTarget(): Promise<{ target: Target; how: string; footprint: Footprint }> {
  const cli = join(root, 'bin/portcullis.js');
  // Commander answers `<unknown> --help` with the main help, so look for the command in the listing.
  const hasCliConnect =
    existsSync(join(root, 'dist/cli.js')) &&
    /^\s+connect\b/m.test(spawnSync(node, [cli, '--help'], { encoding: 'utf8' }).stdout ?? '');
  if (hasCliConnect) {
    return {
      target: {
        name: 'portcullis',
        spawn: {
          command: node,
          args: (url) => [cli, 'connect', url],
          env: { PORTCULLIS_HOME: join(scratch, 'home') },
        },
      },
      how: 'the built CLI: `node bin/portcullis.js connect <url>`',
      footprint: packedFootprint(),
    };
  }
  // The CLI has no `connect` yet: bundle the bridge with the CLI's logger, as scripts/build.mjs would
  // (into the scratch folder: minified output inside the repository would trip the linter).
  const outdir = join(scratch, 'bundle');
  await build({
    entryPoints: { 'portcullis-connect': join(root, 'bench/bridge/bridge-entry.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    minify: true,
    legalComments: 'none',
    chunkNames: 'chunks/[name]-[hash]',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'error',
  });
  const entry = join(outdir, 'portcullis-connect.js');
  return {
    target: { name: 'portcullis', spawn: { command: node, args: (url) => [entry, url] } },
    how: 'the bridge bundled like the CLI (esbuild, minified, undici in a lazy chunk); the built CLI has no `connect` yet',
    footprint: { packages: 1, bytes: sizeOf(outdir), note: 'bridge bundle only, no run-time dependencies' },
  };
}

function mcpRemoteTarget(): { target: Target; footprint: Footprint } {
  const dir = join(cache, 'mcp-remote');
  const pkg = join(dir, 'node_modules/mcp-remote/package.json');
  const installed = existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === '0.15.1';
  if (!installed) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    npm(['init', '-y'], dir);
    npm(['install', 'mcp-remote@0.15.1'], dir);
  }
  const nm = join(dir, 'node_modules');
  const home = join(scratch, 'mcp-remote-home');
  return {
    target: {
      name: 'mcp-remote',
      spawn: {
        command: node,
        args: (url) => [join(nm, 'mcp-remote/dist/proxy.js'), url],
        env: { HOME: home, MCP_REMOTE_CONFIG_DIR: home },
      },
    },
    footprint: { packages: countPackages(nm), bytes: sizeOf(nm), note: 'npm install mcp-remote@0.15.1' },
  };
}

interface Footprint {
  packages: number;
  bytes: number;
  note: string;
}

function packedFootprint(): Footprint {
  const dir = join(cache, 'portcullis-install');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], {
    cwd: root,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  npm(['init', '-y'], dir);
  npm(['install', join(dir, tgz)], dir);
  const nm = join(dir, 'node_modules');
  return { packages: countPackages(nm), bytes: sizeOf(nm), note: 'npm pack + install into an empty folder' };
}

async function startServer(): Promise<{ url: string; stop(): void }> {
  const child = spawn(node, ['--import', 'tsx', join(root, 'bench/bridge/server.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((ok) => createInterface({ input: child.stdout }).once('line', ok));
  return { url, stop: () => child.stdin.end() };
}

// --- the run -----------------------------------------------------------------------------------

interface Row {
  cold: number[];
  rssAfterStart: number[];
  lat: number[];
  rps: number;
  big: number[];
  peak: number | undefined;
}

const loadBefore = loadavg()[0]!;
const server = await startServer();
const p = await portcullisTarget();
const m = mcpRemoteTarget();
const direct: Target = { name: 'direct' };
const targets = [p.target, m.target, direct];
const rows = new Map<string, Row>(
  targets.map((t) => [t.name, { cold: [], rssAfterStart: [], lat: [], rps: 0, big: [], peak: undefined }]),
);
const row = (t: Target) => rows.get(t.name)!;
console.error(`server ${server.url}; portcullis: ${p.how}`);

const nodeBare: number[] = [];
// What Node alone and Node with its built-in fetch loaded weigh: the floor under any bridge's RSS.
const rssOf = (code: string) =>
  Number(
    spawnSync(node, ['-e', `${code};setTimeout(()=>console.log(process.memoryUsage().rss),300)`], {
      encoding: 'utf8',
    }).stdout,
  );
const nodeRss = rssOf('0');
const fetchRss = rssOf("fetch('http://127.0.0.1:9').catch(()=>{})");
for (let i = 0; i < COLD_RUNS; i++) {
  const t0 = performance.now();
  spawnSync(node, ['-e', '0']);
  nodeBare.push(performance.now() - t0);
  for (const t of targets) {
    const r = await coldStart(t, server.url); // interleaved, so drift hits every target alike
    row(t).cold.push(r.ms);
    if (r.rssAfterStart) row(t).rssAfterStart.push(r.rssAfterStart);
  }
}
console.error('cold start done');

// Steady state: all three connected at once, each measure taken round-robin in slices, so a slow
// patch of the machine (or the server warming up) is shared by every target.
const SLICES = 4;
const conns = await Promise.all(targets.map((t) => connect(t, server.url)));
const each = async (fn: (t: Target, c: (typeof conns)[number]) => Promise<void>) => {
  for (let slice = 0; slice < SLICES; slice++) for (const [i, t] of targets.entries()) await fn(t, conns[i]!);
};
for (const c of conns) await latency(c.client, 0); // warm-up: 200 calls each
await each(async (t, c) => {
  row(t).lat.push(...(await latency(c.client, Math.ceil(CALLS / SLICES), 20)));
});
const rpsSlices = new Map<string, number[]>(targets.map((t) => [t.name, []]));
await each(async (t, c) => {
  rpsSlices.get(t.name)!.push(await throughput(c.client, 16, Math.ceil(LOAD_CALLS / SLICES)));
});
for (const t of targets) row(t).rps = median(rpsSlices.get(t.name)!);
// Large results are the noisiest measure (GC in three processes): finer slices.
for (let slice = 0; slice < 2 * SLICES; slice++) {
  for (const [i, t] of targets.entries()) {
    row(t).big.push(...(await bigResults(conns[i]!.client, BIG_BYTES, Math.ceil(BIG_RUNS / (2 * SLICES)))));
  }
}
for (const [i, t] of targets.entries()) {
  const pid = conns[i]!.pid;
  row(t).peak = pid ? peakRss(pid) : undefined;
  await conns[i]!.close();
}
console.error('steady state done');
server.stop();

// --- report ------------------------------------------------------------------------------------

const P = row(p.target);
const M = row(m.target);
const D = row(direct);
const us = (x: number) => `${Math.round(x)} µs`;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const mb = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x / 1024 / 1024).toFixed(1)} MB`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const p50 = (r: Row) => quantile(r.lat, 0.5);
const p99 = (r: Row) => quantile(r.lat, 0.99);
const overP = p50(P) - p50(D);
const overM = p50(M) - p50(D);
const bigOverP = median(P.big) - median(D.big);
const bigOverM = median(M.big) - median(D.big);
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

const table = [
  '| measure | portcullis | mcp-remote@0.15.1 | direct SDK HTTP | portcullis vs mcp-remote | target | |',
  '|---|---|---|---|---|---|---|',
  `| cold start to tools/list (median of ${COLD_RUNS}) | ${ms(median(P.cold))} | ${ms(median(M.cold))} | ${ms(median(D.cold))} | ${ratio(median(P.cold), median(M.cold))} | ≤ 0.5× | ${verdict(median(P.cold) <= 0.5 * median(M.cold))} |`,
  `| echo p50 (${CALLS} calls) | ${us(p50(P))} | ${us(p50(M))} | ${us(p50(D))} | | | |`,
  `| echo p99 | ${us(p99(P))} | ${us(p99(M))} | ${us(p99(D))} | | | |`,
  `| echo p50 overhead over direct | ${us(overP)} | ${us(overM)} | — | ${ratio(overP, overM)} | ≤ 0.5× | ${verdict(overP <= 0.5 * overM)} |`,
  `| 16-in-flight throughput (median of ${SLICES} × ${Math.ceil(LOAD_CALLS / SLICES)} calls) | ${Math.round(P.rps)}/s (${ratio(P.rps, D.rps)} direct) | ${Math.round(M.rps)}/s (${ratio(M.rps, D.rps)} direct) | ${Math.round(D.rps)}/s | | ≥ 0.95× direct | ${verdict(P.rps >= 0.95 * D.rps)} |`,
  `| 256 KiB result (median of ${BIG_RUNS}) | ${ms(median(P.big))} (${ratio(median(P.big), median(D.big))} direct) | ${ms(median(M.big))} (${ratio(median(M.big), median(D.big))} direct) | ${ms(median(D.big))} | overhead ${ratio(bigOverP, bigOverM)} | overhead ≤ 0.5× (as for echo) | ${verdict(bigOverP <= 0.5 * bigOverM)} |`,
  `| bridge RSS after start (median) | ${mb(median(P.rssAfterStart))} | ${mb(median(M.rssAfterStart))} | — | ${ratio(median(P.rssAfterStart), median(M.rssAfterStart))} | ≤ 0.5× | ${verdict(median(P.rssAfterStart) <= 0.5 * median(M.rssAfterStart))} |`,
  `| bridge peak RSS after the run | ${mb(P.peak)} | ${mb(M.peak)} | — | ${ratio(P.peak ?? 0, M.peak ?? 1)} | ≤ 0.5× | ${verdict((P.peak ?? 0) <= 0.5 * (M.peak ?? 0))} |`,
  `| install footprint | ${p.footprint.packages} pkg, ${mb(p.footprint.bytes)} | ${m.footprint.packages} pkg, ${mb(m.footprint.bytes)} | — | | ≤ 10 pkg, ≤ 3 MB | ${verdict(p.footprint.packages <= 10 && p.footprint.bytes <= 3 * 1024 * 1024)} |`,
].join('\n');

const report = `# portcullis connect — benchmark results

Generated by \`npm run bench:bridge\` (bench/bridge/run.ts) on ${new Date().toISOString().slice(0, 10)}:
${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${process.platform}.
One run, all targets against the same fixture SDK MCP server (Streamable HTTP, SSE answers, no auth)
in its own process on 127.0.0.1, driven by the same host: the SDK's \`Client\` over stdio for a
bridge (a real child process), over HTTP for the direct floor. \`node -e 0\` took ${ms(median(nodeBare))} (median).
Load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end: on a shared machine
the absolute numbers move with it; the ratios, taken in one interleaved run, move much less.

portcullis here is ${p.how}.
Footprint: portcullis — ${p.footprint.note}; mcp-remote — ${m.footprint.note}.

${table}

Notes.
- RSS floor: Node alone is ${mb(nodeRss)} here, and Node with its built-in fetch (undici) loaded is
  ${mb(fetchRss)}, before any MCP traffic; every fetch-based bridge pays both. The bridge sets
  \`--semi-space-growth-factor=1\` and \`--optimize-for-size\` at start (docs/decisions/0030), which is
  what keeps its peak near its start.
- The direct SDK connection runs in the host's own process; with 16 calls in flight a bridge adds a
  process (parallelism on ${cpus().length} cores), so a bridge can out-run the "floor" there, and the
  SDK's own transport keeps one abort listener per request until GC (its MaxListenersExceededWarning).
- Footprint is the sum of file sizes under node_modules (the issue's 9.1 MB for mcp-remote is \`du\`, which
  counts whole disk blocks).
- Until the CLI wires \`connect\`, portcullis is measured as the bridge bundled alone (plain fetch, the
  CLI's logger); the full CLI adds the client core, the store and commander. Once \`portcullis connect\`
  exists in \`dist/\`, this benchmark runs it instead and packs the package for the footprint.
`;
writeFileSync(join(root, 'bench/bridge/RESULTS.md'), report);
console.log(table);
rmSync(scratch, { recursive: true, force: true });
