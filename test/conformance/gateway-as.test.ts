/**
 * The official MCP conformance suite's authorization-server scenarios (0.2.0-alpha.12,
 * `conformance authorization`) against the dev gateway: `authorization-server-metadata-endpoint`
 * and `authorization-code-grant`, run together as the CLI runs them (the second reads the
 * metadata the first fetched). The gateway fronts the stdio fixture MCP server, with one
 * pre-registered public client whose redirect URI is the suite's loopback callback; the suite
 * prints an authorization URL, and an HTTP user agent signs in at the dev IdP and approves the
 * consent page, landing on the suite's callback server. Asserts zero FAILURE and no unexplained
 * WARNING (see GATEWAY-AS-RESULTS.md).
 *
 * Public client only: the suite picks token endpoint auth `none` whenever the metadata lists it,
 * even when given `--client-secret`, so a confidential client's token request is (rightly)
 * refused by the gateway with 401 invalid_client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevGateway, startDevGateway } from '../../src/gateway/dev.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { stdioServerCommand } from '../fixtures/mcp-tools.js';
import { SUITES } from './run-suite.js';

const CLIENT_ID = 'conformance-as-client';
const root = path.resolve(import.meta.dirname, '../..');

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';
  description: string;
  errorMessage?: string;
}

/**
 * Warnings we would accept, each with why it is not a failure (mirrored in GATEWAY-AS-RESULTS.md).
 * None today: `authorization-server-metadata-cimd` passes because CIMD is on by default.
 */
const EXPECTED_WARNINGS: Record<string, string> = {};

let stateDir: string;
let outRoot: string;
let dev: DevGateway;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'portcullis-as-conformance-'));
  outRoot = await mkdtemp(path.join(tmpdir(), 'portcullis-as-conformance-out-'));
  dev = await startDevGateway({
    stateDir,
    mcpUpstream: {
      stdio: [stdioServerCommand.command, ...stdioServerCommand.args],
      env: { MCP_USER: '{{user.id}}' },
    },
    overrides: {
      // A public client (PKCE only); RFC 8252 §7.3 lets the suite's callback use any port.
      clients: [
        {
          clientId: CLIENT_ID,
          clientName: 'MCP conformance suite',
          redirectUris: ['http://127.0.0.1/callback'],
          tokenEndpointAuthMethod: 'none',
        },
      ],
    },
  });
});

afterAll(async () => {
  await dev?.close();
  await rm(stateDir, { recursive: true, force: true });
  await rm(outRoot, { recursive: true, force: true });
});

/** Runs `conformance authorization` (both scenarios) and signs in when it asks for a browser. */
async function runAuthorizationSuite(
  extraArgs: string[],
): Promise<{ output: string; exitCode: number | null; results: Map<string, Check[]> }> {
  const port = await freePort();
  const outDir = await mkdtemp(path.join(outRoot, 'run-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      path.join(root, 'test/conformance/register.mjs'),
      SUITES['0.2.0-alpha.12'],
      'authorization',
      '--url',
      dev.issuer,
      '--client-id',
      CLIENT_ID,
      ...extraArgs,
      '--port',
      String(port),
      '-o',
      outDir,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let browsing: Promise<unknown> | undefined;
  const authorizeUrl = `${dev.issuer}/authorize?`;
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (browsing) return;
    const line = output.split('\n').find((l) => l.startsWith(authorizeUrl));
    if (!line) return;
    // The "browser": dev IdP login (any password), then Approve on the consent page, then the
    // redirect to the suite's callback server.
    browsing = completeAuthorization(line.trim(), {
      login: 'demo',
      password: 'anything',
      redirectUri: `http://127.0.0.1:${port}/callback`,
    }).catch((err: unknown) => {
      output += `\n[browser agent] ${String(err)}\n`;
      child.kill();
    });
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await browsing;
  return { output, exitCode, results: await readChecks(outDir) };
}

async function readChecks(outDir: string): Promise<Map<string, Check[]>> {
  const byScenario = new Map<string, Check[]>();
  for (const entry of await readdir(outDir, { recursive: true })) {
    const file = String(entry);
    if (!file.endsWith('checks.json')) continue;
    const scenario = path
      .dirname(file)
      .replace(/^authorization-server-/, '')
      .replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    byScenario.set(scenario, JSON.parse(await readFile(path.join(outDir, file), 'utf8')) as Check[]);
  }
  return byScenario;
}

function expectNoFailure(run: Awaited<ReturnType<typeof runAuthorizationSuite>>) {
  const { output, exitCode, results } = run;
  expect([...results.keys()].sort(), output).toEqual([
    'authorization-code-grant',
    'authorization-server-metadata-endpoint',
  ]);
  const all = [...results.values()].flat();
  const failures = all.filter((c) => c.status === 'FAILURE');
  expect(failures, `${JSON.stringify(failures, null, 2)}\n${output}`).toEqual([]);
  const warnings = all.filter((c) => c.status === 'WARNING').map((c) => c.id);
  expect(warnings.filter((id) => !(id in EXPECTED_WARNINGS))).toEqual([]);
  expect(
    all
      .filter((c) => c.status === 'SUCCESS')
      .map((c) => c.id)
      .sort(),
  ).toEqual([
    'authorization-code-grant',
    'authorization-server-metadata',
    'authorization-server-metadata-cimd',
  ]);
  expect(exitCode, output).toBe(0);
}

describe('conformance 0.2.0-alpha.12, authorization server scenarios, against the dev gateway', () => {
  it('passes both scenarios with an RFC 8707 resource (the MCP URL) on /authorize and /token', async () => {
    expectNoFailure(await runAuthorizationSuite(['--resource', dev.mcpUrl]));
  }, 120_000);

  it('passes both scenarios without a resource parameter (the gateway binds its own MCP URL)', async () => {
    expectNoFailure(await runAuthorizationSuite([]));
  }, 120_000);
});
