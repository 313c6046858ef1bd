// Opening the authorization URL (MCP SBP C39/C40): no shell, the URL one argv element, only
// http(s), $BROWSER honoured. A fake spawn records what would have run.
import type { spawn as nodeSpawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { browserCommand, openBrowser } from '../../../src/client/browser.js';

const url =
  'https://idp.example.com/authorize?client_id=a&state=b&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb';

describe('browserCommand', () => {
  it('appends the URL to $BROWSER and its arguments', () => {
    expect(browserCommand(url, { env: { BROWSER: 'firefox --new-window' }, platform: 'linux' })).toEqual([
      'firefox',
      ['--new-window', url],
    ]);
  });

  it('puts the URL where $BROWSER says %s', () => {
    expect(browserCommand(url, { env: { BROWSER: ' chromium  --app=%s --incognito ' } })).toEqual([
      'chromium',
      [`--app=${url}`, '--incognito'],
    ]);
  });

  it.each([
    ['darwin', ['open', [url]]],
    ['win32', ['rundll32', ['url.dll,FileProtocolHandler', url]]],
    ['linux', ['xdg-open', [url]]],
    ['freebsd', ['xdg-open', [url]]],
  ] as const)('on %s without $BROWSER runs %j', (platform, expected) => {
    expect(browserCommand(url, { env: {}, platform })).toEqual(expected);
  });

  it('keeps a URL full of shell metacharacters as one argument', () => {
    const hostile = 'https://idp.example.com/a?x=1&y=$(touch /tmp/pwned);z=`id`|more';
    const [, args] = browserCommand(hostile, { env: {}, platform: 'linux' });
    expect(args).toEqual([hostile]);
  });
});

interface Spawned {
  command: string;
  args: readonly string[];
  options: Record<string, unknown>;
}

/** A spawn that records its call and then emits `spawn` (or `error`) like a real child. */
function fakeSpawn(outcome: 'spawn' | Error = 'spawn') {
  const calls: Spawned[] = [];
  let unrefs = 0;
  const spawn = ((command: string, args: readonly string[], options: Record<string, unknown>) => {
    calls.push({ command, args, options });
    const child = Object.assign(new EventEmitter(), { unref: () => void unrefs++ });
    queueMicrotask(() => (outcome === 'spawn' ? child.emit('spawn') : child.emit('error', outcome)));
    return child;
  }) as unknown as typeof nodeSpawn;
  return { spawn, calls, unrefs: () => unrefs };
}

describe('openBrowser', () => {
  it('spawns the launcher without a shell, detached, and lets it outlive us', async () => {
    const fake = fakeSpawn();
    await openBrowser(new URL(url), { env: {}, platform: 'darwin', spawn: fake.spawn });
    expect(fake.calls).toEqual([
      { command: 'open', args: [url], options: { stdio: 'ignore', detached: true, shell: false } },
    ]);
    expect(fake.unrefs()).toBe(1);
  });

  it('rejects when the launcher cannot start, so the caller can say so', async () => {
    const fake = fakeSpawn(Object.assign(new Error('spawn xdg-open ENOENT'), { code: 'ENOENT' }));
    await expect(openBrowser(url, { env: {}, platform: 'linux', spawn: fake.spawn })).rejects.toThrow(
      'spawn xdg-open ENOENT',
    );
  });

  it.each(['javascript:alert(document.cookie)', 'file:///etc/passwd', 'data:text/html,hi'])(
    'refuses %s and starts nothing',
    async (hostile) => {
      const fake = fakeSpawn();
      await expect(async () =>
        openBrowser(hostile, { env: { BROWSER: 'firefox' }, spawn: fake.spawn }),
      ).rejects.toThrow(`refusing to open an authorization URL with scheme ${new URL(hostile).protocol}`);
      expect(fake.calls).toEqual([]);
    },
  );

  it('refuses a cleartext URL off loopback and starts nothing', async () => {
    const fake = fakeSpawn();
    await expect(async () =>
      openBrowser('http://idp.example.com/authorize', { spawn: fake.spawn }),
    ).rejects.toThrow('refusing to open a cleartext authorization URL on idp.example.com');
    expect(fake.calls).toEqual([]);
  });
});
