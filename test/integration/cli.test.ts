// The CLI end to end, as a user runs it: each command a spawned `portcullis` process (from source,
// through tsx) with its own PORTCULLIS_HOME, against a real oidc-provider and a real SDK MCP
// server on 127.0.0.1:0. The browser is test/cli/fake-browser.ts, run by the CLI as $BROWSER:
// a real HTTP user agent that logs in and approves consent on the IdP's own forms.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEFAULT_USERS, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { startMcpServer } from '../fixtures/mcp-server.js';

const ENTRY = fileURLToPath(new URL('../../src/cli/main-entry.ts', import.meta.url));
const FAKE_BROWSER = fileURLToPath(new URL('../cli/fake-browser.ts', import.meta.url));
const alice = { login: 'alice', password: DEFAULT_USERS['alice']!.password };

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when `pattern` appears on stderr. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

async function setup() {
  const as = await startAuthorizationServer();
  onTestFinished(() => as.stop());
  const mcp = await startMcpServer({ authorizationServer: as });
  onTestFinished(() => mcp.stop());
  const home = await mkdtemp(path.join(tmpdir(), 'portcullis-cli-'));
  onTestFinished(() => rm(home, { recursive: true, force: true }));
  const browserLog = path.join(home, 'browser.log');
  const children = new Set<ChildProcess>();
  onTestFinished(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('PORTCULLIS_')),
  );
  Object.assign(env, {
    PORTCULLIS_HOME: home,
    BROWSER: `${process.execPath} --import tsx ${FAKE_BROWSER}`,
    FAKE_BROWSER_LOG: browserLog,
    NO_COLOR: '1',
  });

  const start = (args: string[], opts: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {}): Run => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      env: { ...env, ...opts.env },
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    const waiters = new Set<() => void>();
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      for (const check of waiters) check();
    });
    const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exit,
      waitForStderr: (pattern) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const match = stderr.match(pattern);
            if (match) {
              waiters.delete(check);
              resolve(match);
            }
          };
          waiters.add(check);
          exit.then(() => {
            check();
            if (waiters.delete(check)) reject(new Error(`exited before ${pattern} appeared:\n${stderr}`));
          });
          check();
        }),
    };
  };
  const run = (args: string[], opts: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {}) =>
    start(args, opts).exit;
  const browserVisits = async () =>
    (await readFile(browserLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { as, mcp, home, start, run, browserVisits };
}

/** Every file under `dir`, read as text. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(
    entries.filter((e) => e.isFile()).map((e) => readFile(path.join(e.parentPath, e.name), 'utf8')),
  );
}

describe('portcullis CLI, end to end', () => {
  it('logs in through the browser, shows status, lists and calls tools, then logs out revoking the tokens', async () => {
    const { as, mcp, home, run, browserVisits } = await setup();

    const login = await run(['login', mcp.url]);
    expect(login.stderr).toContain(`Logged in to ${mcp.url}`);
    expect(login.code).toBe(0);
    expect(await browserVisits()).toEqual([
      expect.stringMatching(/^landed on http:\/\/127\.0\.0\.1:\d+\/callback$/),
    ]);

    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(mcp.url);
    expect(status.stdout).toMatch(/Logged in; access token expires in \d+ (s|min)/);
    expect(status.stdout).toContain(`Authorization server  ${as.issuer}`);
    expect(status.stdout).toMatch(/Registration +dcr \(dynamic client registration\), client id \S+/);
    expect(status.stdout).toMatch(/Scopes +.*mcp:read/);
    expect(status.stdout).toMatch(/Refresh token +yes/);

    const json = await run(['status', '--json']);
    expect(json.code).toBe(0);
    const [server] = JSON.parse(json.stdout).servers;
    expect(server).toMatchObject({
      url: mcp.url,
      state: 'logged_in',
      usable: true,
      authorizationServer: as.issuer,
      registration: { source: 'dcr', clientId: expect.any(String) },
      token: {
        refreshToken: true,
        expiresInSeconds: expect.any(Number),
        scopes: expect.arrayContaining(['mcp:read']),
      },
      lastError: null,
    });
    expect(server.token.expiresInSeconds).toBeGreaterThan(0);

    const tools = await run(['tools', mcp.url]);
    expect(tools.code).toBe(0);
    expect(tools.stdout).toMatch(/^echo\(text\) +Returns its text$/m);

    const toolsJson = await run(['tools', mcp.url, '--json']);
    expect(JSON.parse(toolsJson.stdout).map((t: { name: string }) => t.name)).toContain('echo');

    const call = await run(['call', mcp.url, 'echo', '--args', '{"text":"hi"}']);
    expect(call).toMatchObject({ code: 0, stdout: 'hi\n' });

    const failing = await run(['call', mcp.url, 'no-such-tool']);
    expect(failing.code).toBe(5);
    expect(failing.stderr).toContain('no-such-tool');

    // The stored login was reused by every command: one browser visit in all.
    expect(await browserVisits()).toHaveLength(1);
    // Nothing printed or stored holds a token in the clear: no JWT shape (`eyJ…` header, dot,
    // payload, dot), which random ciphertext cannot take by chance the way a bare `eyJ` can.
    const jwt = /eyJ[\w-]+\.[\w-]+\./;
    for (const output of [login, status, json, tools, call])
      expect(output.stdout + output.stderr).not.toMatch(jwt);
    for (const text of await filesUnder(path.join(home, 'store'))) {
      expect(text).not.toMatch(jwt);
      expect(text).not.toMatch(/mcp:read/);
    }

    const revocationsBefore = as.requests.entries.filter((r) => r.path.endsWith('/revocation')).length;
    const logout = await run(['logout', mcp.url]);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain(`Logged out of ${mcp.url}; revoked the refresh token at ${as.issuer}`);
    const revocations = as.requests.entries
      .filter((r) => r.path.endsWith('/revocation'))
      .slice(revocationsBefore);
    expect(revocations).toContainEqual(expect.objectContaining({ method: 'POST', status: 200 }));

    const after = await run(['status']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('Not logged in to any MCP server');
    expect(after.stdout).not.toContain(mcp.url);
  }, 90_000);

  it('logs in headless with --no-browser: prints the URL and takes the pasted redirect URL', async () => {
    const { mcp, start, run, browserVisits } = await setup();

    const login = start(['login', mcp.url, '--no-browser'], { stdin: 'pipe' });
    const [printed] = await login.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const authorizationUrl = new URL(printed);
    const redirectUri = authorizationUrl.searchParams.get('redirect_uri')!;
    // The person's browser is elsewhere: it never reaches the CLI's loopback listener.
    const landed = await completeAuthorization(authorizationUrl, {
      ...alice,
      redirectUri,
      visitRedirectUri: false,
    });
    expect(landed.searchParams.get('code')).toBeTruthy();
    login.child.stdin!.write(`${landed.href}\n`);

    const { code, stderr } = await login.exit;
    expect(stderr).toContain(`Logged in to ${mcp.url}`);
    expect(code).toBe(0);
    expect(await browserVisits()).toEqual([]); // no browser was launched

    const call = await run(['call', mcp.url, 'echo', '--args', '{"text":"headless"}']);
    expect(call).toMatchObject({ code: 0, stdout: 'headless\n' });
  }, 60_000);

  it('refuses --args that are not a JSON object with exit 2, before contacting the server', async () => {
    const { mcp, run } = await setup();

    const notJson = await run(['call', mcp.url, 'echo', '--args', '{text: hi}']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/error: --args is not valid JSON/);

    const notObject = await run(['call', mcp.url, 'echo', '--args', '["hi"]']);
    expect(notObject.code).toBe(2);
    expect(notObject.stderr).toContain('--args must be a JSON object of tool arguments, got an array');
    expect(mcp.requestCount).toBe(0);
  }, 30_000);

  it('exits 3 when a call needs a login and none can happen (no browser, stdin closed)', async () => {
    const { mcp, run, browserVisits } = await setup();

    const call = await run(['call', mcp.url, 'echo', '--args', '{"text":"hi"}', '--no-browser'], {
      stdin: 'ignore',
    });
    expect(call.code).toBe(3);
    expect(call.stderr).toContain('needs a login');
    expect(call.stderr).toContain(`portcullis login ${mcp.url}`);
    expect(call.stdout).toBe('');
    expect(await browserVisits()).toEqual([]);
  }, 30_000);

  it('cancels a login waiting for the browser on Ctrl-C with exit 130, keeping nothing', async () => {
    const { mcp, start, run } = await setup();

    const login = start(['login', mcp.url], { env: { FAKE_BROWSER_MODE: 'ignore' } });
    await login.waitForStderr(/Waiting for you to log in/);
    login.child.kill('SIGINT');
    const { code, stderr } = await login.exit;
    expect(code).toBe(130);
    expect(stderr).toContain('Cancelled.');

    const status = await run(['status', mcp.url]);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain('Not logged in');
  }, 30_000);
});
