// examples/terminal-host run as a user would: a login through the browser (a stand-in $BROWSER that
// logs in with the fixture agent), a second run with no login, and Esc cancelling a pending login.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProtectedServer } from './host-setup.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const agentBrowser = `${process.execPath} --import ${tsx} ${path.join(here, 'host-browser-agent.ts')}`;

async function home(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-terminal-host-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function run(args: string[], env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/terminal-host/index.ts', ...args],
    { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' },
  );
  onTestFinished(() => {
    if (child.exitCode === null) child.kill();
  });
  let stdout = '';
  let stderr = '';
  const stderrWaiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const w of stderrWaiters.filter((w) => w.pattern.test(stderr))) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    untilStderr: (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        if (pattern.test(stderr)) resolve();
        else stderrWaiters.push({ pattern, resolve });
      }),
    done: async () => ({ code: await exited, stdout, stderr }),
  };
}

describe('examples/terminal-host', () => {
  it('shows the login URL, logs in through the browser, lists tools and calls one; a second run needs no login', {
    timeout: 60_000,
  }, async () => {
    const { as, mcp } = await startProtectedServer();
    const env = { PORTCULLIS_HOME: await home(), BROWSER: agentBrowser };

    const first = await run([mcp.url, 'whoami'], env).done();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`Log in to ${mcp.url} in your browser:`);
    expect(first.stderr).toContain(`${as.issuer}/auth?`);
    expect(first.stderr).toContain('Waiting for you to log in… (Esc to cancel)');
    expect(first.stderr).toContain(`✓ Logged in at ${as.issuer}`);
    expect(first.stdout).toMatch(/tool\(s\) on .*\n(.*\n)*\s+whoami — Returns the calling identity\n/);
    expect(first.stdout.trim().split('\n').at(-1)).toBe('alice');

    const second = await run([mcp.url, 'echo', '{"text":"no login this time"}'], env).done();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('Log in');
    expect(second.stdout.trim().split('\n').at(-1)).toBe('no login this time');
    expect(as.requests.grants('authorization_code')).toBe(1);
  });

  it('cancels a pending login on Esc', { timeout: 60_000 }, async () => {
    const { mcp } = await startProtectedServer();
    // A browser that opens and is never used.
    const host = run([mcp.url], { PORTCULLIS_HOME: await home(), BROWSER: `${process.execPath} -e 0` });
    await host.untilStderr(/Esc to cancel/);
    host.child.stdin.write('\x1b');
    const { code, stderr } = await host.done();
    expect(code).toBe(1);
    expect(stderr).toContain('Login cancelled.');
  });
});
