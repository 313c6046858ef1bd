/**
 * Runs the official conformance CLI (0.1.16 or 0.2.0-alpha.12) against our client and reads
 * every scenario's checks.json. A scenario that fails only on a timing check (`sse-retry` on a
 * loaded 2-core machine) is re-run alone, never loosened.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SUITES = {
  '0.1.16': join(root, 'node_modules/@modelcontextprotocol/conformance/dist/index.js'),
  '0.2.0-alpha.12': join(root, 'node_modules/conformance-next/dist/index.js'),
} as const;

export interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: Array<{ id: string; status: string; description: string }>;
}

export function run(
  version: keyof typeof SUITES,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['--import', join(root, 'test/conformance/register.mjs'), SUITES[version], ...args],
      { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 },
      (_err, stdout, stderr) => resolvePromise(`${stdout}\n${stderr}`),
    );
  });
}

export function readResults(dir: string): ScenarioResult[] {
  const files = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('checks.json'));
  return files.map((f) => {
    const checks = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Array<{
      id: string;
      status: string;
      description: string;
    }>;
    const scenario = dirname(f).replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    return {
      scenario,
      passed: checks.filter((c) => c.status === 'SUCCESS').length,
      failed: checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING'),
    };
  });
}

/** Runs scenarios (a suite or a list) and returns one result per scenario, retrying timing-only failures once. */
export async function runClientScenarios(opts: {
  version: keyof typeof SUITES;
  command: string;
  suite?: string;
  scenarios?: string[];
  env?: Record<string, string>;
}): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const batches = opts.suite
    ? [['--suite', opts.suite]]
    : (opts.scenarios ?? []).map((s) => ['--scenario', s]);
  for (const batch of batches) {
    const out = mkdtempSync(join(tmpdir(), 'portcullis-conformance-'));
    await run(opts.version, ['client', '--command', opts.command, ...batch, '-o', out], opts.env);
    results.push(...readResults(out));
  }
  for (const [i, r] of results.entries()) {
    if (r.failed.length > 0 && r.failed.every((f) => f.id === 'client-sse-retry-timing')) {
      const out = mkdtempSync(join(tmpdir(), 'portcullis-conformance-retry-'));
      await run(
        opts.version,
        ['client', '--command', opts.command, '--scenario', r.scenario, '-o', out],
        opts.env,
      );
      const again = readResults(out).find((x) => x.scenario === r.scenario);
      if (again) results[i] = again;
    }
  }
  return results;
}
