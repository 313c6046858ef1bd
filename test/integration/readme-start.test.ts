/**
 * The README's run command, as a user meets it: `npm start` (scripts/start-dev.mjs) brings up
 * the gateway with its dev IdP and SQLite in front of the sample MCP server and prints the MCP URL
 * and the next commands; running those (`login`, `tools`, `call`) as separate processes works.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'portcullis-start-'));
let gateway: ChildProcess;
let printed = '';
let mcpUrl = '';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main-entry.ts', ...args], {
      cwd: root,
      env: {
        ...process.env,
        PORTCULLIS_HOME: join(work, 'home'),
        BROWSER: `${process.execPath} --import tsx ${join(root, 'test/cli/fake-browser.ts')}`,
        FAKE_BROWSER_LOGIN: 'demo',
        FAKE_BROWSER_PASSWORD: 'anything',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  gateway = spawn(process.execPath, ['scripts/start-dev.mjs'], {
    cwd: root,
    env: { ...process.env, PORT: '0', PORTCULLIS_DEV_STATE: join(work, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  gateway.stdout?.on('data', (d) => (printed += d));
  await new Promise<void>((ready, fail) => {
    gateway.stderr?.on('data', (d) => {
      printed += d;
      if (printed.includes('Press Ctrl-C to stop')) ready();
    });
    gateway.on('exit', (code) => fail(new Error(`npm start exited ${code}: ${printed}`)));
  });
  mcpUrl = /MCP server URL\s+(\S+)/.exec(printed)?.[1] ?? '';
}, 60_000);

afterAll(async () => {
  if (gateway.pid && gateway.exitCode === null) {
    const gone = new Promise((r) => gateway.once('exit', r));
    process.kill(-gateway.pid, 'SIGTERM');
    await gone;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('npm start (the embedded default)', () => {
  it('prints the MCP URL, the dev login and the exact commands to try', () => {
    expect(mcpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(printed).toContain(`portcullis login ${mcpUrl}`);
    expect(printed).toContain(`portcullis tools ${mcpUrl}`);
    expect(printed).toContain('user "demo"');
  });

  it('the printed commands work: login, tools, and a call that sees the logged-in user', async () => {
    const login = await cli(['login', mcpUrl]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('Logged in');

    const tools = await cli(['tools', mcpUrl]);
    expect(tools.code, tools.stderr).toBe(0);
    expect(tools.stdout).toMatch(/echo/);
    expect(tools.stdout).toMatch(/whoami/);

    const echo = await cli(['call', mcpUrl, 'echo', '--args', '{"text":"hello"}']);
    expect(echo.code, echo.stderr).toBe(0);
    expect(echo.stdout.trim()).toBe('hello');

    const whoami = await cli(['call', mcpUrl, 'whoami']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout.trim()).toBe('demo');
  }, 90_000);
});
