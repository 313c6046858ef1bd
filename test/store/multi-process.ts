/** Runs lock-worker.ts in several child processes against one backend and reads what they did. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { OpenStoreOptions } from '../../src/store/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** Runs a TypeScript file under test/store in a child node process; resolves with its exit. */
export function runScript(
  script: string,
  args: string[],
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/**
 * Starts `workers` processes that each increment a shared counter `iterations` times under
 * `withLock`, then asserts the log never interleaves and no increment was lost.
 */
export async function expectProcessesNeverInterleave(
  spec: string,
  options: OpenStoreOptions,
  { workers = 3, iterations = 25 } = {},
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-lock-'));
  try {
    const counterFile = path.join(dir, 'counter');
    const logFile = path.join(dir, 'log');
    await writeFile(counterFile, '0');
    await writeFile(logFile, '');
    const runs = await Promise.all(
      Array.from({ length: workers }, (_, id) =>
        runScript('lock-worker.ts', [
          JSON.stringify({ spec, options, counterFile, logFile, iterations, id: String(id) }),
        ]),
      ),
    );
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0 });
    const lines = (await readFile(logFile, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(workers * iterations * 2);
    for (let at = 0; at < lines.length; at += 2) {
      expect(lines[at]).toMatch(/^enter \d+$/);
      expect(lines[at + 1]).toBe(lines[at]?.replace('enter', 'exit'));
    }
    // More than one process took turns (not one finishing before the next started).
    const owners = lines.filter((line) => line.startsWith('enter')).map((line) => line.slice(6));
    expect(new Set(owners).size).toBe(workers);
    expect(Number(await readFile(counterFile, 'utf8'))).toBe(workers * iterations);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
