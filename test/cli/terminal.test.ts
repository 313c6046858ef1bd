// The CLI's terminal pieces: option parsing, logger redaction, the spinner, relative times,
// and main() itself (exit codes of usage errors, --version, --help) with in-memory streams.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import { createCliLogger } from '../../src/cli/logger.js';
import { main } from '../../src/cli/main.js';
import { collectHeader, parsePort, parseServerUrl, parseToolArguments } from '../../src/cli/options.js';
import { describeExpiry, formatDuration } from '../../src/cli/output.js';
import { startSpinner } from '../../src/cli/spinner.js';

const usage = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('usage');
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
};

describe('command-line values', () => {
  it('parses repeatable --header "Name: value" and never echoes a malformed value', () => {
    expect(collectHeader('X-Api-Key: abc: def', collectHeader('X-Team:  blue'))).toEqual({
      'X-Team': 'blue',
      'X-Api-Key': 'abc: def',
    });
    expect(usage(() => collectHeader('sk-secret-without-name'))).not.toContain('sk-secret');
    expect(usage(() => collectHeader('Authorization: Bearer x'))).toContain(
      'portcullis sets this header itself',
    );
  });

  it('accepts only a JSON object for --args', () => {
    expect(parseToolArguments('{"text":"hi"}')).toEqual({ text: 'hi' });
    expect(parseToolArguments(undefined)).toEqual({});
    expect(usage(() => parseToolArguments('{text: hi}'))).toMatch(/^--args is not valid JSON/);
    expect(usage(() => parseToolArguments('[1]'))).toContain('got an array');
    expect(usage(() => parseToolArguments('null'))).toContain('got null');
    expect(usage(() => parseToolArguments('"hi"'))).toContain('got a string');
  });

  it('accepts a port from 1 to 65535', () => {
    expect(parsePort('8080')).toBe(8080);
    for (const bad of ['0', '65536', '80a', '-1']) usage(() => parsePort(bad));
  });

  it('takes https or loopback http server URLs, canonicalized', () => {
    expect(parseServerUrl('HTTPS://MCP.Example.com/mcp#frag')).toBe('https://mcp.example.com/mcp');
    expect(parseServerUrl('http://127.0.0.1:3000/mcp')).toBe('http://127.0.0.1:3000/mcp');
    expect(usage(() => parseServerUrl('http://mcp.example.com/mcp'))).toContain('must use https');
    expect(parseServerUrl('http://mcp.example.com/mcp', { allowHttp: true })).toBe(
      'http://mcp.example.com/mcp',
    );
    usage(() => parseServerUrl('file:///etc/passwd'));
  });
});

describe('the CLI logger', () => {
  it('redacts tokens, codes, secrets and Authorization headers before writing', async () => {
    const lines: string[] = [];
    const logger = await createCliLogger({ level: 'debug', write: (line) => lines.push(line) });
    logger.debug(
      {
        accessToken: 'at-1',
        headers: { authorization: 'Bearer at-2', 'x-team': 'blue' },
        params: { code: 'code-3', code_verifier: 'v-4', state: 'st' },
        client: { clientSecret: 's-5', clientId: 'public-id' },
        response: { refresh_token: 'rt-6' },
        code: 'reauth_required',
      },
      'flow step',
    );
    const text = lines.join('');
    for (const secret of ['at-1', 'at-2', 'code-3', 'v-4', 's-5', 'rt-6']) expect(text).not.toContain(secret);
    expect(text).toContain('public-id');
    expect(text).toContain('reauth_required');
    expect(JSON.parse(text)).toMatchObject({ msg: 'flow step', level: 20 });
  });

  it('writes compact human lines when asked (a terminal)', async () => {
    const lines: string[] = [];
    (await createCliLogger({ level: 'info', pretty: true, write: (line) => lines.push(line) })).warn(
      { issuer: 'https://as.example.com', err: new Error('boom') },
      'could not open a browser',
    );
    expect(lines).toEqual([
      'portcullis warn: could not open a browser issuer=https://as.example.com err="boom"\n',
    ]);
  });
});

describe('the spinner', () => {
  it('writes its text once when stderr is not a terminal', () => {
    const written: string[] = [];
    const spinner = startSpinner({ write: (t) => written.push(t) }, 'Waiting…');
    spinner.stop();
    expect(written).toEqual(['Waiting…\n']);
  });

  it('animates on a terminal and erases its line when stopped or aborted', () => {
    const written: string[] = [];
    const controller = new AbortController();
    startSpinner({ write: (t) => written.push(t), isTTY: true }, 'Waiting…', { signal: controller.signal });
    expect(written[0]?.startsWith('\r\x1b[2K')).toBe(true);
    expect(written[0]).toMatch(/. Waiting…$/);
    controller.abort();
    expect(written.at(-1)).toBe('\r\x1b[2K');
  });
});

describe('relative times', () => {
  it('says how long until a token expires, or since it did', () => {
    expect(formatDuration(30_000)).toBe('30 s');
    expect(formatDuration(42 * 60_000)).toBe('42 min');
    expect(formatDuration(125 * 60_000)).toBe('2 h 5 min');
    expect(formatDuration(3 * 86_400_000)).toBe('3 days');
    expect(describeExpiry(1_000 + 42 * 60_000, 1_000)).toBe('expires in 42 min');
    expect(describeExpiry(1_000, 1_000 + 3 * 60_000)).toBe('expired 3 min ago');
  });
});

describe('main', () => {
  async function runMain(args: string[]) {
    const home = await mkdtemp(path.join(tmpdir(), 'portcullis-main-'));
    onTestFinished(() => rm(home, { recursive: true, force: true }));
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c) => {
      out += c;
    });
    stderr.on('data', (c) => {
      err += c;
    });
    const code = await main(['node', 'portcullis', ...args], {
      stdin: new PassThrough(),
      stdout,
      stderr,
      env: { PORTCULLIS_HOME: home },
      writeLog: () => {},
    });
    return { code, out, err };
  }

  it('exits 0 with the version and the help', async () => {
    expect(await runMain(['--version'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    const help = await runMain(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Exit codes:');
  });

  it('exits 2 on an unknown command, option or log level', async () => {
    expect((await runMain(['logni'])).err).toContain("unknown command 'logni'");
    expect((await runMain(['logni'])).code).toBe(2);
    expect((await runMain(['status', '--jsn'])).code).toBe(2);
    const level = await runMain(['--log-level', 'loud', 'status']);
    expect(level).toMatchObject({ code: 2, err: expect.stringContaining('--log-level must be one of') });
  });

  it('exits 2 when logout names no server', async () => {
    expect(await runMain(['logout'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('pass its URL, or --all'),
    });
  });

  it('prints an empty status as JSON', async () => {
    const { code, out } = await runMain(['status', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ servers: [] });
  });
});
