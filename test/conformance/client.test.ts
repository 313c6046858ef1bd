/**
 * The official MCP conformance suite against portcullis's client: 0.1.16 `--suite all` twice
 * (auth-aware fetch; SDK provider adapter), and every `auth/*` scenario of 0.2.0-alpha.12
 * (2026-07-28 revision and extensions) with the auth-aware fetch.
 */
import { describe, expect, it } from 'vitest';
import { run, runClientScenarios, type ScenarioResult } from './run-suite.js';

const command = 'node --import tsx test/conformance/client.ts';

function expectAllGreen(results: ScenarioResult[], expectedScenarios: number) {
  expect(results.length).toBe(expectedScenarios);
  for (const r of results) {
    expect
      .soft(r.failed, `${r.scenario}: ${r.failed.map((f) => `${f.id}: ${f.description}`).join('; ')}`)
      .toEqual([]);
    expect.soft(r.passed, `${r.scenario} passed no checks`).toBeGreaterThan(0);
  }
}

describe('conformance 0.1.16, client --suite all', () => {
  it('passes every check with the SDK client on the auth-aware fetch', async () => {
    expectAllGreen(await runClientScenarios({ version: '0.1.16', command, suite: 'all' }), 26);
  }, 300_000);

  it('passes every check with the SDK driving its own flow through the portcullis/sdk provider', async () => {
    expectAllGreen(
      await runClientScenarios({
        version: '0.1.16',
        command,
        suite: 'all',
        env: { CONFORMANCE_MODE: 'sdk' },
      }),
      26,
    );
  }, 300_000);
});

describe('conformance 0.2.0-alpha.12, every auth scenario (2026-07-28 and extensions)', () => {
  it('passes every check with the auth-aware fetch', async () => {
    const listing = await run('0.2.0-alpha.12', ['list', '--client']);
    const scenarios = [...new Set(listing.match(/auth\/[a-z0-9-]+/g) ?? [])];
    expect(scenarios).toContain('auth/iss-normalized');
    expect(scenarios).toContain('auth/dpop-nonce');
    const results = await runClientScenarios({ version: '0.2.0-alpha.12', command, suite: 'auth' });
    const extensions = scenarios.filter((s) => !results.some((r) => r.scenario === s));
    results.push(
      ...(await runClientScenarios({ version: '0.2.0-alpha.12', command, scenarios: extensions })),
    );
    expectAllGreen(results, scenarios.length);
  }, 600_000);
});
