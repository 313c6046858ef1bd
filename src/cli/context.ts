/**
 * What every command gets: the process's streams and environment, the Ctrl-C signal, the global
 * options, and lazily the logger, the config and the store (encrypted file store under the
 * portcullis home). Nothing is opened that a command does not use, and `close()` releases it all.
 */
import path from 'node:path';
import { type Logger, silentLogger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { CliConfig, RememberedSettings, ServerSettings } from './config.js';
import { resolveHome } from './home.js';
import { createCliLogger, DEFAULT_LOG_LEVEL, type LogLevel, parseLogLevel } from './logger.js';
import { createStyle, type Style, type TextStream } from './output.js';

export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean | undefined };
  stdout: TextStream;
  stderr: TextStream;
  env: NodeJS.ProcessEnv;
  /** Where log lines go; default: synchronous writes to fd 2. */
  writeLog?: (line: string) => void;
}

export interface GlobalOptions {
  logLevel?: string;
  home?: string;
  config?: string;
}

/** Namespace of the settings `login` remembers per server (no secrets: those live in client records). */
export const NS_CLI = 'cli';

export class Cli {
  readonly io: CliIo;
  readonly signal: AbortSignal;
  /** The server the running command is about, for hints in error messages. */
  serverUrl: string | undefined;
  /** Values never to be printed (client secrets, header values). */
  readonly secrets = new Set<string>();
  readonly style: Style;
  readonly errStyle: Style;
  /** Set by a command that ends with something other than success without throwing. */
  exitCode = 0;
  private globals: GlobalOptions = {};
  private level: LogLevel = DEFAULT_LOG_LEVEL;
  private loggerInstance: Logger | undefined;
  private configPromise: Promise<CliConfig> | undefined;
  private storePromise: Promise<Store> | undefined;

  constructor(io: CliIo, signal: AbortSignal) {
    this.io = io;
    this.signal = signal;
    this.style = createStyle(io.stdout, io.env);
    this.errStyle = createStyle(io.stderr, io.env);
  }

  /** Called once the global options are parsed; validates them before any command runs. */
  async configure(globals: GlobalOptions): Promise<void> {
    this.globals = globals;
    this.level =
      parseLogLevel(globals.logLevel, '--log-level') ??
      parseLogLevel(this.io.env['PORTCULLIS_LOG_LEVEL'], 'PORTCULLIS_LOG_LEVEL') ??
      DEFAULT_LOG_LEVEL;
    this.loggerInstance = await createCliLogger({
      level: this.level,
      pretty: Boolean(this.io.stderr.isTTY),
      ...(this.io.writeLog ? { write: this.io.writeLog } : {}),
    });
  }

  get home(): string {
    return resolveHome(this.globals.home, this.io.env);
  }

  get logLevel(): LogLevel {
    return this.level;
  }

  /** The stderr logger; silent until `configure` ran (nothing runs before it but argument parsing). */
  get logger(): Logger {
    return this.loggerInstance ?? silentLogger;
  }

  config(): Promise<CliConfig> {
    // Loaded on use, like the store: `--help` and `status` of nothing should start fast.
    this.configPromise ??= import('./config.js').then(async ({ loadConfig, checkConfigPermissions }) => {
      const config = await loadConfig({ file: this.globals.config, home: this.home });
      for (const server of Object.values(config.servers)) {
        if (server.clientSecret) this.secrets.add(server.clientSecret);
        for (const value of Object.values(server.headers ?? {})) this.secrets.add(value);
      }
      await checkConfigPermissions(config, (text) => this.warn(text));
      return config;
    });
    return this.configPromise;
  }

  /** The encrypted file store: `<home>/store/`, key from PORTCULLIS_KEY or `<home>/store.key`. */
  store(): Promise<Store> {
    this.storePromise ??= (async () => {
      const [{ loadEncryptionKey }, { createFileStore }, { createEncryptedStore }] = await Promise.all([
        import('../store/encryption-key.js'),
        import('../store/file.js'),
        import('../store/encrypted.js'),
      ]);
      const key = await loadEncryptionKey({ env: this.io.env, keyFile: path.join(this.home, 'store.key') });
      const inner = await createFileStore({ dir: path.join(this.home, 'store') });
      return createEncryptedStore(inner, { key });
    })();
    return this.storePromise;
  }

  /** Every layer merged for one server: flags > env > remembered by `login` > config file. */
  async settingsFor(
    serverUrl: string,
    flags: Partial<ServerSettings>,
    opts: { remembered?: boolean } = {},
  ): Promise<ServerSettings> {
    const config = await this.config();
    const { resolveServerSettings, secretsOf } = await import('./config.js');
    // `login` starts afresh: what an earlier login remembered does not apply to it.
    const remembered = opts.remembered === false ? undefined : await this.remembered(serverUrl);
    const settings = resolveServerSettings(serverUrl, { flags, env: this.io.env, remembered, config });
    for (const secret of secretsOf(settings)) this.secrets.add(secret);
    return settings;
  }

  async remembered(serverUrl: string): Promise<RememberedSettings | undefined> {
    return (await this.store()).get<RememberedSettings>(NS_CLI, serverUrl);
  }

  /** stdout: the command's result. */
  out(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** stderr: progress and notes for the person at the terminal. */
  note(line = ''): void {
    this.io.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    this.note(this.errStyle.warn(line));
  }

  async close(): Promise<void> {
    const store = this.storePromise;
    this.storePromise = undefined;
    if (store) await (await store.catch(() => undefined))?.close();
  }
}
