// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in --header values is the feature under test
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConnectOptionsError,
  connectArgvToInput,
  parseConnectOptions,
} from '../../src/bridge/cli-options.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  parseConnectOptions(connectArgvToInput(argv), env);
const fails = (argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) => {
  let error: unknown;
  try {
    parse(argv, env);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConnectOptionsError);
  expect((error as Error).message).toMatch(pattern);
};

describe('portcullis connect options', () => {
  it('has defaults that need no flags', () => {
    expect(parse(['https://mcp.example.com/mcp'])).toEqual({
      url: new URL('https://mcp.example.com/mcp'),
      headers: {},
      allowHttp: false,
      transport: 'http-first',
      callbackPort: undefined,
      resource: undefined,
      scope: undefined,
      logFile: undefined,
      logLevel: 'warn',
      clientId: undefined,
      clientSecret: undefined,
      clientMetadataUrl: undefined,
      grant: 'authorization_code',
      authTimeoutMs: undefined,
      browser: true,
      maxMessageBytes: undefined,
    });
  });

  it('takes repeatable --header with or without a space, and expands ${VAR} from the environment', () => {
    const o = parse(
      ['https://x.example/mcp', '--header', 'Authorization:${AUTH}', '--header', 'X-Tenant: acme corp'],
      { AUTH: 'Bearer abc def' },
    );
    expect(o.headers).toEqual({ Authorization: 'Bearer abc def', 'X-Tenant': 'acme corp' });
    fails(['https://x.example/mcp', '--header', 'X:${MISSING}'], /MISSING.*not set/);
  });

  it.each([
    ['no colon', 'NoColon', /Name: value/],
    ['a bad name', 'Bad Name: v', /not a valid HTTP header name/],
    ['a header the transport owns', 'Mcp-Session-Id: s', /transport owns it/],
    ['an Mcp-Param header', 'Mcp-Param-Region: eu', /transport owns it/],
  ])('refuses a header with %s', (_, header, pattern) => {
    fails(['https://x.example/mcp', '--header', header], pattern);
  });

  it('reads --header-file, skipping blank lines and comments, before --header', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hdr-')), 'headers.txt');
    writeFileSync(file, '# tenant\nX-Tenant: acme\r\n\nAuthorization: Bearer ${TOKEN}\n');
    const o = parse(['https://x.example/mcp', '--header-file', file, '--header', 'X-Extra: 1'], {
      TOKEN: 't0k',
    });
    expect(o.headers).toEqual({ 'X-Tenant': 'acme', Authorization: 'Bearer t0k', 'X-Extra': '1' });
    fails(['https://x.example/mcp', '--header-file', join(file, 'missing')], /cannot read/);
  });

  it('refuses a header value smuggling a line break from the environment', () => {
    fails(['https://x.example/mcp', '--header', 'X-A:${V}'], /line break/, { V: 'a\r\nInjected: 1' });
  });

  it("accepts mcp-remote's spellings", () => {
    const o = parse(
      [
        'https://x.example/mcp',
        '3334',
        '--debug',
        '--disable-resource-parameter',
        '--enable-proxy',
        '--static-oauth-client-info',
        '{"client_id":"cid","client_secret":"sec"}',
      ],
      {},
    );
    expect(o).toMatchObject({
      callbackPort: 3334,
      logLevel: 'debug',
      resource: false,
      clientId: 'cid',
      clientSecret: 'sec',
    });
    expect(parse(['https://x.example/mcp', '--silent']).logLevel).toBe('silent');
    expect(
      parse(
        [
          'https://x.example/mcp',
          '--client-credentials',
          '--static-oauth-client-info',
          '{"client_id":"c","client_secret":"${S}"}',
        ],
        { S: 'sec' },
      ),
    ).toMatchObject({ grant: 'client_credentials', clientId: 'c', clientSecret: 'sec' });
    expect(parse(['https://x.example/mcp', '--resource', '']).resource).toBe(false);
    fails(['https://x.example/mcp', '--transport', 'sse-first'], /use sse-only/);
  });

  it('takes the OAuth overrides', () => {
    const o = parse([
      'https://x.example/mcp',
      '--port',
      '8123',
      '--resource',
      'https://x.example/',
      '--scope',
      'read write',
      '--client-id',
      'id',
      '--client-secret',
      's',
      '--grant',
      'client_credentials',
      '--auth-timeout',
      '90',
      '--no-browser',
      '--transport',
      'sse-only',
      '--allow-http',
      '--log-file',
      '/tmp/p.log',
    ]);
    expect(o).toMatchObject({
      callbackPort: 8123,
      resource: 'https://x.example/',
      scope: 'read write',
      clientId: 'id',
      clientSecret: 's',
      grant: 'client_credentials',
      authTimeoutMs: 90_000,
      browser: false,
      transport: 'sse-only',
      allowHttp: true,
      logFile: '/tmp/p.log',
    });
    expect(parseConnectOptions({ url: 'https://x.example/mcp', resource: false }).resource).toBe(false);
    expect(parseConnectOptions({ url: 'https://x.example/mcp', header: 'A: b' }).headers).toEqual({ A: 'b' });
  });

  it.each([
    [['--client-secret', 's'], /needs --client-id/],
    [['--grant', 'client_credentials', '--client-id', 'i'], /needs --client-id and --client-secret/],
    [['--grant', 'password'], /authorization_code or client_credentials/],
    [['--port', '70000'], /1–65535/],
    [['--log-level', 'loud'], /--log-level/],
    [['--client-metadata-url', 'http://x.example/c.json'], /https/],
    [['--resource', 'not a url'], /not a valid URL/],
    [['--auth-timeout', '0'], /positive/],
    [['--no-such-flag'], /Unknown option/],
  ])('refuses %j', (flags, pattern) => {
    fails(['https://x.example/mcp', ...(flags as string[])], pattern);
  });

  it('needs a URL, and an http(s) one', () => {
    fails([], /server URL is required/);
    fails(['ftp://x.example/'], /http\(s\)/);
    fails(['not-a-url'], /not a valid URL/);
  });
});
