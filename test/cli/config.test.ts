import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  type CliConfig,
  checkConfigPermissions,
  loadConfig,
  parseConfig,
  resolveServerSettings,
} from '../../src/cli/config.js';
import { CliError } from '../../src/cli/errors.js';
import { resolveHome } from '../../src/cli/home.js';

const FILE = '/home/me/.config/portcullis/config.json';
const URL_A = 'https://mcp.example.com/mcp';

async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-config-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function configError(run: () => unknown): CliError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('expected a CliError');
}

const empty: CliConfig = { file: FILE, servers: {}, defaults: {} };

describe('config file', () => {
  it('keys servers by their canonical URL', () => {
    const config = parseConfig(
      { servers: { 'HTTPS://MCP.Example.com/mcp#x': { clientId: 'abc', scope: 'read' } } },
      FILE,
    );
    expect(config.servers).toEqual({ [URL_A]: { clientId: 'abc', scope: 'read' } });
  });

  it('refuses a clientSecret without a clientId, naming the server', () => {
    const error = configError(() =>
      parseConfig({ servers: { [URL_A]: { clientSecret: 's3cret-value' } } }, FILE),
    );
    expect(error.code).toBe('config_invalid');
    expect(error.message).toContain(FILE);
    expect(error.message).toContain(`servers["${URL_A}"]: clientSecret is set but clientId is not`);
    expect(error.message).not.toContain('s3cret-value');
  });

  it('names an unknown key, so a typo never goes unnoticed', () => {
    const error = configError(() => parseConfig({ servers: { [URL_A]: { clientID: 'abc' } } }, FILE));
    expect(error.message).toMatch(/servers\["https:\/\/mcp\.example\.com\/mcp"\]: .*clientID/);
  });

  it('names a wrongly typed value with its path', () => {
    const error = configError(() => parseConfig({ servers: { [URL_A]: { callbackPort: 'eighty' } } }, FILE));
    expect(error.message).toContain(`servers["${URL_A}"].callbackPort`);
  });

  it('refuses a server key that is not an http(s) URL, and two keys for one server', () => {
    expect(configError(() => parseConfig({ servers: { 'not a url': {} } }, FILE)).message).toContain(
      'servers["not a url"]: not an http(s) URL',
    );
    expect(
      configError(() => parseConfig({ servers: { [URL_A]: {}, 'https://MCP.example.com/mcp': {} } }, FILE))
        .message,
    ).toContain('the same server as another entry');
  });

  it('refuses a client id in defaults (it belongs to one server)', () => {
    expect(configError(() => parseConfig({ defaults: { clientId: 'abc' } }, FILE)).message).toContain(
      'defaults',
    );
  });

  it('reads a missing default file as an empty config, but not a missing --config file', async () => {
    const home = await tempDir();
    expect(await loadConfig({ home })).toEqual({
      file: path.join(home, 'config.json'),
      servers: {},
      defaults: {},
    });
    await expect(loadConfig({ home, file: path.join(home, 'nope.json') })).rejects.toThrow(
      /cannot read the config file .*nope\.json \(ENOENT\)/,
    );
  });

  it('names the file when it is not JSON', async () => {
    const home = await tempDir();
    await writeFile(path.join(home, 'config.json'), '{ "servers": ');
    await expect(loadConfig({ home })).rejects.toThrow(/config\.json is not valid JSON/);
  });

  it('warns when a file holding a client secret is readable by others', async () => {
    if (process.platform === 'win32') return;
    const home = await tempDir();
    const file = path.join(home, 'config.json');
    await writeFile(file, JSON.stringify({ servers: { [URL_A]: { clientId: 'a', clientSecret: 'b' } } }));
    await chmod(file, 0o644);
    const warnings: string[] = [];
    await checkConfigPermissions(await loadConfig({ home }), (text) => warnings.push(text));
    expect(warnings).toEqual([expect.stringContaining(`chmod 600 ${file}`)]);
    await chmod(file, 0o600);
    warnings.length = 0;
    await checkConfigPermissions(await loadConfig({ home }), (text) => warnings.push(text));
    expect(warnings).toEqual([]);
  });
});

describe('settings for a server', () => {
  const config = parseConfig(
    {
      servers: {
        [URL_A]: {
          clientId: 'from-config',
          clientSecret: 'config-secret',
          scope: 'config-scope',
          headers: { 'X-Team': 'a', 'X-Key': 'config' },
        },
      },
      defaults: { resource: false, dpop: false, refreshSkewSeconds: 30, headers: { 'X-Default': '1' } },
    },
    FILE,
  );

  it('takes flags over environment over what login remembered over the file over its defaults', () => {
    const settings = resolveServerSettings(URL_A, {
      flags: { scope: 'flag-scope', headers: { 'X-Key': 'flag' } },
      env: { PORTCULLIS_CLIENT_ID: 'from-env', PORTCULLIS_CLIENT_SECRET: 'env-secret' },
      remembered: { scope: 'remembered-scope', allowHttp: true },
      config,
    });
    expect(settings).toEqual({
      clientId: 'from-env',
      clientSecret: 'env-secret',
      scope: 'flag-scope',
      resource: false,
      dpop: false,
      refreshSkewSeconds: 30,
      allowHttp: true,
      headers: { 'X-Default': '1', 'X-Team': 'a', 'X-Key': 'flag' },
    });
  });

  it('uses the file for a server when nothing else is set', () => {
    expect(resolveServerSettings(URL_A, { flags: {}, env: {}, config })).toMatchObject({
      clientId: 'from-config',
      clientSecret: 'config-secret',
      scope: 'config-scope',
    });
  });

  it('never pairs a lower layer’s secret with a higher layer’s client id', () => {
    const settings = resolveServerSettings(URL_A, { flags: { clientId: 'from-flag' }, env: {}, config });
    expect(settings.clientId).toBe('from-flag');
    expect(settings.clientSecret).toBeUndefined();
  });

  it('pairs a higher layer’s secret with a lower layer’s client id', () => {
    const settings = resolveServerSettings(URL_A, {
      flags: {},
      env: { PORTCULLIS_CLIENT_SECRET: 'env-secret' },
      config,
    });
    expect(settings).toMatchObject({ clientId: 'from-config', clientSecret: 'env-secret' });
  });

  it('refuses a client secret with no client id anywhere', () => {
    const error = configError(() =>
      resolveServerSettings('https://other.example.com/mcp', {
        flags: {},
        env: { PORTCULLIS_CLIENT_SECRET: 'env-secret' },
        config: empty,
      }),
    );
    expect(error.code).toBe('usage');
    expect(error.message).toContain('without a client id');
  });
});

describe('home directory', () => {
  it('is --home, else PORTCULLIS_HOME, else the platform directory', () => {
    expect(resolveHome('/flag/home', { PORTCULLIS_HOME: '/env/home' })).toBe('/flag/home');
    expect(resolveHome(undefined, { PORTCULLIS_HOME: '/env/home' })).toBe('/env/home');
    expect(resolveHome(undefined, {})).toMatch(/portcullis$/);
  });
});
