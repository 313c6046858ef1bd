/**
 * Install footprint and CLI cold start, side by side with mcp-remote@0.15.1 in one run:
 * `npm pack` this package, install the tarball into an empty folder, count packages and bytes;
 * install mcp-remote the same way; time `--help` for both (median of N runs) and `node -e 0`.
 *
 *   npm run build && node --import tsx bench/footprint/run.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cache = join(root, 'bench/.cache/footprint');
const RUNS = Number(process.env['RUNS'] ?? 15);

function npm(args: string[], cwd: string) {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

function countPackages(nodeModules: string): number {
  let n = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        walk(join(dir, name));
        continue;
      }
      n++;
      try {
        walk(join(dir, name, 'node_modules'));
      } catch {}
    }
  };
  walk(nodeModules);
  return n;
}

function install(spec: string, into: string) {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  npm(['init', '-y'], into);
  npm(['install', spec], into);
  const nm = join(into, 'node_modules');
  return { packages: countPackages(nm), bytes: sizeOf(nm) };
}

function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function once(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Medians of interleaved runs (A B C A B C …), so background load hits every command alike. */
function timeInterleaved(commands: Array<[string, string[]]>): number[] {
  const samples = commands.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) {
    for (const [j, [cmd, args]] of commands.entries()) samples[j]!.push(once(cmd, args));
  }
  return samples.map(median);
}

const packDir = mkdtempSync(join(tmpdir(), 'portcullis-pack-'));
const tarball = npm(['pack', '--pack-destination', packDir], root).trim().split('\n').pop()!;
const ours = install(join(packDir, tarball), join(cache, 'portcullis'));
const theirs = install('mcp-remote@0.15.1', join(cache, 'mcp-remote'));

const [node, oursHelp, theirsHelp] = timeInterleaved([
  [process.execPath, ['-e', '0']],
  [process.execPath, [join(cache, 'portcullis/node_modules/portcullis/bin/portcullis.js'), '--help']],
  [process.execPath, [join(cache, 'mcp-remote/node_modules/mcp-remote/dist/proxy.js'), '--help']],
]) as [number, number, number];

const mb = (b: number) => (b / 1024 / 1024).toFixed(2);
console.log(`| | packages | installed MB | \`--help\` cold start (median of ${RUNS}) |`);
console.log('|---|---|---|---|');
console.log(`| portcullis (this build) | ${ours.packages} | ${mb(ours.bytes)} | ${oursHelp.toFixed(0)} ms |`);
console.log(`| mcp-remote@0.15.1 | ${theirs.packages} | ${mb(theirs.bytes)} | ${theirsHelp.toFixed(0)} ms |`);
console.log(
  `| ratio portcullis / mcp-remote | ${(ours.packages / theirs.packages).toFixed(2)}× | ${(ours.bytes / theirs.bytes).toFixed(2)}× | ${(oursHelp / theirsHelp).toFixed(2)}× |`,
);
console.log(`\nbare \`node -e 0\`: ${node.toFixed(0)} ms`);
