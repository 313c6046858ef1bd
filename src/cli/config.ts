/**
 * The CLI's configuration: a JSON file (default `<home>/config.json`, or `--config`), validated
 * with zod at the edge, plus environment variables. For any setting of a server the order is
 * flags > environment > what `login` remembered > the file's `servers["<url>"]` > its `defaults`.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { canonicalResourceUrl } from '../oauth/url-rules.js';
import { CliError } from './errors.js';
import { HEADER_NAME } from './options.js';

// zod/mini (functional API) with only the English messages: the CLI loads this on every server
// command, and the full zod (every locale) costs tens of milliseconds of start-up.
z.config(en());
const nonEmpty = () => z.string().check(z.minLength(1));
const port = z.int().check(z.minimum(1), z.maximum(65_535));
const headers = z.record(
  z.string().check(z.regex(HEADER_NAME, 'not a valid HTTP header name')),
  z.string().check(z.regex(/^[^\r\n]*$/, 'a header value cannot span lines')),
);

/** What may be set for one server. Unknown keys are errors, so a typo never goes unnoticed. */
const ServerSettingsSchema = z.strictObject({
  clientId: z.optional(nonEmpty()),
  clientSecret: z.optional(nonEmpty()),
  /** CIMD: an https URL whose document describes this client. */
  clientMetadataUrl: z.optional(z.url({ protocol: /^https$/ })),
  scope: z.optional(nonEmpty()),
  /** Send RFC 8707 `resource` (default true); false for IdPs that reject it. */
  resource: z.optional(z.boolean()),
  callbackPort: z.optional(port),
  headers: z.optional(headers),
  refreshSkewSeconds: z.optional(z.int().check(z.minimum(0))),
  allowHttp: z.optional(z.boolean()),
  /** DPoP-bound tokens (RFC 9449); default: when the AS offers them. false for resource servers that take only Bearer. */
  dpop: z.optional(z.boolean()),
});

/** Defaults for every server; a client id (and its secret) belongs to one server, so not here. */
const DefaultsSchema = z.omit(ServerSettingsSchema, { clientId: true, clientSecret: true });

const ConfigSchema = z.strictObject({
  $schema: z.optional(z.string()),
  servers: z._default(z.record(z.string(), ServerSettingsSchema), {}),
  defaults: z.optional(DefaultsSchema),
});

export type ConfiguredServer = z.infer<typeof ServerSettingsSchema>;
export interface CliConfig {
  /** The file read (or that would have been), for messages. */
  file: string;
  /** Keyed by canonical server URL. */
  servers: Record<string, ConfiguredServer>;
  defaults: z.infer<typeof DefaultsSchema>;
}

/** Settings the client core needs for one server, after every layer is merged. */
export interface ServerSettings {
  clientId?: string;
  clientSecret?: string;
  clientMetadataUrl?: string;
  scope?: string;
  resource?: boolean;
  callbackPort?: number;
  headers: Record<string, string>;
  refreshSkewSeconds?: number;
  allowHttp?: boolean;
  dpop?: boolean;
}

/** The non-secret settings `login` keeps in the store, so later commands behave the same. */
export type RememberedSettings = Pick<
  ServerSettings,
  'clientMetadataUrl' | 'scope' | 'resource' | 'allowHttp'
>;

export const CONFIG_FILE_NAME = 'config.json';

/**
 * Reads and validates the config file. The default file may be absent (an empty config); a file
 * named with `--config` must exist. Errors name the file and the offending setting.
 */
export async function loadConfig(opts: { file?: string | undefined; home: string }): Promise<CliConfig> {
  const file = path.resolve(opts.file ?? path.join(opts.home, CONFIG_FILE_NAME));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.file === undefined) return { file, servers: {}, defaults: {} };
    throw new CliError('config_invalid', `cannot read the config file ${file} (${code ?? String(cause)})`, {
      ...(opts.file ? { hint: 'check the path given to --config' } : {}),
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CliError(
      'config_invalid',
      `the config file ${file} is not valid JSON: ${(cause as Error).message}`,
    );
  }
  return parseConfig(json, file);
}

/** Validates a parsed config document; exported for tests. */
export function parseConfig(json: unknown, file: string): CliConfig {
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  - ${issuePath(issue.path)}: ${issue.message}`);
    throw new CliError('config_invalid', `the config file ${file} is invalid:\n${problems.join('\n')}`, {
      hint: 'fix it, or see docs/cli.md for the format',
    });
  }
  const servers: Record<string, ConfiguredServer> = {};
  for (const [key, settings] of Object.entries(parsed.data.servers)) {
    let url: string;
    try {
      url = canonicalResourceUrl(key);
      if (!/^https?:$/.test(new URL(url).protocol)) throw new Error('not http(s)');
    } catch {
      throw new CliError(
        'config_invalid',
        `the config file ${file} is invalid:\n  - servers["${key}"]: not an http(s) URL`,
      );
    }
    if (servers[url]) {
      throw new CliError(
        'config_invalid',
        `the config file ${file} is invalid:\n  - servers["${key}"]: the same server as another entry (${url})`,
      );
    }
    // A secret without its client id is meaningless and would be sent to the wrong client.
    if (settings.clientSecret !== undefined && settings.clientId === undefined) {
      throw new CliError(
        'config_invalid',
        `the config file ${file} is invalid:\n  - servers["${key}"]: clientSecret is set but clientId is not; a secret belongs to a pre-registered client id`,
      );
    }
    servers[url] = settings;
  }
  return { file, servers, defaults: parsed.data.defaults ?? {} };
}

function issuePath(segments: PropertyKey[]): string {
  let out = '';
  for (const [i, segment] of segments.entries()) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (i === 1 && segments[0] === 'servers') out += `["${String(segment)}"]`;
    else out += `${out ? '.' : ''}${String(segment)}`;
  }
  return out || '(top level)';
}

/** Warns (through `warn`) when a config file holding a secret can be read by others (POSIX). */
export async function checkConfigPermissions(config: CliConfig, warn: (text: string) => void): Promise<void> {
  if (process.platform === 'win32') return;
  const hasSecret = Object.values(config.servers).some((s) => s.clientSecret !== undefined);
  if (!hasSecret) return;
  const mode = await stat(config.file).then(
    (s) => s.mode,
    () => undefined,
  );
  if (mode !== undefined && (mode & 0o077) !== 0) {
    warn(
      `${config.file} holds a client secret and is readable by other users; run: chmod 600 ${config.file}`,
    );
  }
}

/** One source of settings; zod's optional members may hold `undefined`. */
type Layer = { [K in keyof ServerSettings]?: ServerSettings[K] | undefined };

export interface SettingsLayers {
  /** From the command line; `undefined` members are not set. */
  flags: Partial<ServerSettings>;
  env: NodeJS.ProcessEnv;
  remembered?: RememberedSettings | undefined;
  config: CliConfig;
}

/**
 * Merges every layer for one server. A client secret is taken only from the layer that gave the
 * client id or a higher one, so a lower layer's secret is never paired with another client id.
 */
export function resolveServerSettings(serverUrl: string, layers: SettingsLayers): ServerSettings {
  const configured = layers.config.servers[serverUrl] ?? {};
  const env = environmentSettings(layers.env);
  const ordered: Layer[] = [layers.flags, env, layers.remembered ?? {}, configured, layers.config.defaults];
  const pick = <K extends keyof ServerSettings>(key: K): ServerSettings[K] | undefined =>
    ordered.find((layer) => layer[key] !== undefined)?.[key];

  const idLayer = ordered.findIndex((layer) => layer.clientId !== undefined);
  const secretLayer = ordered.findIndex((layer) => layer.clientSecret !== undefined);
  const clientId = idLayer >= 0 ? ordered[idLayer]!.clientId : undefined;
  const clientSecret =
    secretLayer >= 0 && (idLayer < 0 || secretLayer <= idLayer)
      ? ordered[secretLayer]!.clientSecret
      : undefined;
  if (clientSecret !== undefined && clientId === undefined) {
    throw new CliError('usage', `a client secret was given for ${serverUrl} without a client id`, {
      hint: 'pass --client-id (or set PORTCULLIS_CLIENT_ID, or clientId in the config) with the secret',
    });
  }

  const settings: ServerSettings = {
    headers: { ...layers.config.defaults.headers, ...configured.headers, ...layers.flags.headers },
  };
  const assign = <K extends Exclude<keyof ServerSettings, 'headers'>>(
    key: K,
    value: ServerSettings[K] | undefined,
  ) => {
    if (value !== undefined) settings[key] = value;
  };
  assign('clientId', clientId);
  assign('clientSecret', clientSecret);
  assign('clientMetadataUrl', pick('clientMetadataUrl'));
  assign('scope', pick('scope'));
  assign('resource', pick('resource'));
  assign('callbackPort', pick('callbackPort'));
  assign('refreshSkewSeconds', pick('refreshSkewSeconds'));
  assign('allowHttp', pick('allowHttp'));
  assign('dpop', pick('dpop'));
  return settings;
}

/** `PORTCULLIS_CLIENT_ID` / `PORTCULLIS_CLIENT_SECRET` (empty values count as unset). */
export function environmentSettings(env: NodeJS.ProcessEnv): Partial<ServerSettings> {
  const out: Partial<ServerSettings> = {};
  if (env['PORTCULLIS_CLIENT_ID']) out.clientId = env['PORTCULLIS_CLIENT_ID'];
  if (env['PORTCULLIS_CLIENT_SECRET']) out.clientSecret = env['PORTCULLIS_CLIENT_SECRET'];
  return out;
}

/** Every secret a run may know, so that nothing printed can contain one. */
export function secretsOf(settings: ServerSettings): string[] {
  return [settings.clientSecret, ...Object.values(settings.headers)].filter((s): s is string => !!s);
}
