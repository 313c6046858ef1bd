// The loopback callback (RFC 8252 §7.3, C17, C20): a real listener on 127.0.0.1, driven by real
// HTTP requests. `openBrowser: false` everywhere: no browser is ever launched by these tests.
import { request } from 'node:http';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ClientError } from '../../../src/client/errors.js';
import {
  createLoopbackInteraction,
  type LoopbackOptions,
  parsePasted,
} from '../../../src/client/loopback.js';

const STATE = 'expected-state-value';

/** A GET with full control of the Host header (fetch would not let us forge it). */
function get(url: string, opts: { host?: string; method?: string } = {}) {
  const target = new URL(url);
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: opts.method ?? 'GET',
          agent: false,
          headers: { host: opts.host ?? target.host },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.on('error', reject).end();
    },
  );
}

async function startFlow(opts: LoopbackOptions = {}, signal?: AbortSignal) {
  const interaction = createLoopbackInteraction({ openBrowser: false, ...opts });
  onTestFinished(() => interaction.close?.());
  const redirectUri = await interaction.redirectUri();
  const authorizationUrl = new URL('https://idp.example.com/authorize');
  authorizationUrl.searchParams.set('state', STATE);
  const result = interaction.authorize(authorizationUrl, signal ?? new AbortController().signal);
  const callback = (params: Record<string, string>) => `${redirectUri}?${new URLSearchParams(params)}`;
  return { interaction, redirectUri, authorizationUrl, result, callback };
}

/** A port that something else is holding for the duration of the test. */
async function occupiedPort(): Promise<number> {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  return (blocker.address() as { port: number }).port;
}

describe('loopback callback', () => {
  it('listens on 127.0.0.1 with the callback path and keeps one redirect URI per flow', async () => {
    const { interaction, redirectUri } = await startFlow({ callbackPath: '/oauth/cb' });
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/cb$/);
    expect(await interaction.redirectUri()).toBe(redirectUri);
  });

  it('answers a callback with the wrong state, ignores it, and still accepts the right one', async () => {
    const { result, callback } = await startFlow();
    const forged = await get(callback({ code: 'attacker-code', state: 'not-ours' }));
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('This login link is not the one portcullis is waiting for.');
    const real = await get(callback({ code: 'real-code', state: STATE }));
    expect(real.status).toBe(200);
    expect(real.body).toContain('You are logged in.');
    expect(real.headers['cache-control']).toBe('no-store');
    expect((await result).searchParams.get('code')).toBe('real-code');
  });

  it.each(['evil.example', 'localhost', '127.0.0.1', 'attacker.example:80'])(
    'refuses a request whose Host is %s (DNS rebinding) without resolving the flow',
    async (host) => {
      const { result, callback } = await startFlow();
      const rebound = await get(callback({ code: 'rebound-code', state: STATE }), { host });
      expect(rebound).toMatchObject({ status: 400, body: 'wrong host' });
      // Had the rebound request resolved the flow, its code would be the result.
      await get(callback({ code: 'real-code', state: STATE }));
      expect((await result).searchParams.get('code')).toBe('real-code');
    },
  );

  it('serves only GET on the callback path', async () => {
    const { redirectUri, result, callback } = await startFlow();
    const origin = new URL(redirectUri).origin;
    expect((await get(`${origin}/`)).status).toBe(404);
    expect((await get(`${origin}/favicon.ico`)).status).toBe(404);
    expect((await get(`${redirectUri}/deeper?state=${STATE}&code=x`)).status).toBe(404);
    expect((await get(callback({ code: 'posted', state: STATE }), { method: 'POST' })).status).toBe(404);
    await get(callback({ code: 'real-code', state: STATE }));
    expect((await result).searchParams.get('code')).toBe('real-code');
  });

  it('hands back an error callback (the caller raises it) with a failure page', async () => {
    const { result, callback } = await startFlow();
    const page = await get(callback({ error: 'access_denied', state: STATE }));
    expect(page.body).toContain('The login did not complete.');
    expect((await result).searchParams.get('error')).toBe('access_denied');
  });

  it('fails with callback_port_in_use, naming the port, when a configured port is taken', async () => {
    const port = await occupiedPort();
    const interaction = createLoopbackInteraction({ port, openBrowser: false });
    const error = await interaction.redirectUri().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({
      code: 'callback_port_in_use',
      message: expect.stringContaining(`cannot listen on 127.0.0.1:${port} for the login callback`),
    });
  });

  it('moves to another port when the remembered one is taken', async () => {
    const port = await occupiedPort();
    const interaction = createLoopbackInteraction({ openBrowser: false });
    onTestFinished(() => interaction.close?.());
    const redirectUri = await interaction.redirectUri({ port });
    expect(Number(new URL(redirectUri).port)).not.toBe(port);
    expect(Number(new URL(redirectUri).port)).toBeGreaterThan(0);
  });

  it('reuses the remembered port when it is free', async () => {
    const first = createLoopbackInteraction({ openBrowser: false });
    const port = Number(new URL(await first.redirectUri()).port);
    await first.close?.();
    const second = createLoopbackInteraction({ openBrowser: false });
    onTestFinished(() => second.close?.());
    expect(await second.redirectUri({ port })).toBe(`http://127.0.0.1:${port}/callback`);
  });

  it('rejects with aborted when the caller aborts', async () => {
    const controller = new AbortController();
    const { result } = await startFlow({}, controller.signal);
    controller.abort();
    await expect(result).rejects.toMatchObject({ code: 'aborted', message: 'login cancelled' });
  });

  it('rejects at once with aborted when the signal is already aborted', async () => {
    const { result } = await startFlow({}, AbortSignal.abort());
    await expect(result).rejects.toMatchObject({ code: 'aborted' });
  });

  it('rejects with callback_timeout when no callback arrives in time', async () => {
    const { result } = await startFlow({}, AbortSignal.timeout(20));
    await expect(result).rejects.toMatchObject({
      code: 'callback_timeout',
      message: 'no login callback arrived in time; run the command again',
    });
  });

  it('shows the URL to the user and calls the opener with it', async () => {
    const shown: string[] = [];
    const opened: string[] = [];
    const { authorizationUrl, result, callback } = await startFlow({
      onAuthorizationUrl: (u) => shown.push(u.href),
      openBrowser: async (u) => {
        opened.push(u.href);
      },
    });
    await get(callback({ code: 'c', state: STATE }));
    await result;
    expect(shown).toEqual([authorizationUrl.href]);
    expect(opened).toEqual([authorizationUrl.href]);
  });

  it('keeps waiting for the callback when the browser cannot be opened', async () => {
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (obj: unknown) => void warnings.push(obj) };
    const { result, callback } = await startFlow({
      openBrowser: () => Promise.reject(new Error('no display')),
      logger,
    });
    await get(callback({ code: 'c', state: STATE }));
    expect((await result).searchParams.get('code')).toBe('c');
    expect(warnings).toEqual([{ err: 'no display' }]);
  });

  it('accepts a pasted full redirect URL, skipping lines that are not one', async () => {
    const input = new PassThrough();
    const { redirectUri, result } = await startFlow({ paste: { input } });
    input.write('\n');
    input.write('what do I paste?\n');
    input.write(`${redirectUri}?code=pasted-code&state=${STATE}\n`);
    const url = await result;
    expect(url.searchParams.get('code')).toBe('pasted-code');
    expect(url.searchParams.get('state')).toBe(STATE);
  });

  it('accepts a pasted bare code and completes it with the expected state', async () => {
    const input = new PassThrough();
    const { redirectUri, result } = await startFlow({ paste: { input } });
    input.write('  bare-Code_123.~  \n');
    const url = await result;
    expect(url.href).toBe(`${redirectUri}?code=bare-Code_123.%7E&state=${STATE}`);
  });

  it('stops listening once closed', async () => {
    const { interaction, redirectUri, result, callback } = await startFlow();
    await get(callback({ code: 'c', state: STATE }));
    await result;
    await interaction.close?.();
    await expect(get(redirectUri)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('parsePasted', () => {
  const redirectUri = 'http://127.0.0.1:4000/callback';
  it('takes a URL carrying code or error, and nothing else', () => {
    expect(parsePasted(`${redirectUri}?code=a&state=s`, redirectUri, 's')?.searchParams.get('code')).toBe(
      'a',
    );
    expect(
      parsePasted(`${redirectUri}?error=access_denied`, redirectUri, 's')?.searchParams.get('error'),
    ).toBe('access_denied');
    expect(parsePasted(`${redirectUri}?state=s`, redirectUri, 's')).toBeUndefined();
    expect(parsePasted('https://[broken', redirectUri, 's')).toBeUndefined();
  });

  it('refuses text that cannot be a code', () => {
    expect(parsePasted('', redirectUri, 's')).toBeUndefined();
    expect(parsePasted('two words', redirectUri, 's')).toBeUndefined();
    expect(parsePasted('<script>', redirectUri, 's')).toBeUndefined();
  });
});
