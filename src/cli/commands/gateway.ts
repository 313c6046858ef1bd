/**
 * `portcullis gateway [--config <file>] [--dev] [-- <stdio command…>]`: the gateway in front of
 * an MCP server. `--dev` is the embedded default: the built-in dev IdP, SQLite under
 * `./.portcullis/`, plain http on 127.0.0.1. Runs until SIGINT/SIGTERM, then drains and exits.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { action } from '../command.js';
import type { Cli, GlobalOptions } from '../context.js';
import { CliError, ExitCode } from '../errors.js';

interface GatewayFlags {
  dev?: boolean;
  port?: string;
  host?: string;
  stateDir?: string;
  upstream?: string;
  env: string[];
}

/** `--env NAME=template`, repeatable: a stdio child's environment, e.g. `MCP_USER={{user.id}}`. */
function collectEnv(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseEnv(pairs: string[], dev: boolean): Record<string, string> {
  const env: Record<string, string> = dev ? { MCP_USER: '{{user.id}}' } : {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usage(`--env takes NAME=template, not ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

export function gatewayCommand(program: Command, cli: Cli): void {
  program
    .command('gateway')
    .description(
      'Run the OAuth 2.1 gateway in front of an MCP server (an HTTP URL or a stdio command after --)',
    )
    .option('--dev', 'embedded default: built-in dev IdP, SQLite under ./.portcullis, http on 127.0.0.1')
    .option('--port <n>', 'port to listen on (default: 8787 in --dev, else the config, else 8787)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1)')
    .option('--state-dir <dir>', '--dev: where SQLite and the key file live (default ./.portcullis)')
    .option('--upstream <url>', 'the MCP server to front, over Streamable HTTP (instead of a stdio command)')
    .option(
      '--env <NAME=template>',
      'stdio server environment, repeatable: {{user.id}} {{client.id}} {{scopes}} {{claims.<name>}} {{upstream.access_token}} {{upstream.access_token_file}} (--dev sets MCP_USER={{user.id}})',
      collectEnv,
      [],
    )
    .argument('[command...]', 'the stdio MCP server command, after --')
    .action(
      action(cli, async (command: string[], flags: GatewayFlags, cmd: Command) => {
        const globals = cmd.optsWithGlobals<GlobalOptions & GatewayFlags>();
        const env = parseEnv(flags.env, Boolean(flags.dev));
        const mcpUpstream = flags.upstream
          ? { http: flags.upstream }
          : command.length
            ? { stdio: command, ...(Object.keys(env).length ? { env } : {}) }
            : undefined;
        const port = flags.port === undefined ? undefined : parsePort(flags.port);
        return flags.dev
          ? runDev(cli, { mcpUpstream, port, stateDir: flags.stateDir })
          : runConfigured(cli, { file: globals.config, mcpUpstream, port, host: flags.host });
      }),
    );
}

function usage(message: string): CliError {
  return new CliError('usage', message, { hint: 'run: portcullis gateway --help' });
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be 0–65535, not ${text}`);
  return port;
}

async function runDev(
  cli: Cli,
  opts: {
    mcpUpstream: { http: string } | { stdio: string[]; env?: Record<string, string> } | undefined;
    port: number | undefined;
    stateDir: string | undefined;
  },
): Promise<number> {
  if (!opts.mcpUpstream) {
    throw usage('name the MCP server to front: portcullis gateway --dev -- <command…>, or --upstream <url>');
  }
  // Loaded on use: the gateway is not needed to start any other command (cold start of `--help`).
  const { DEV_USER, startDevGateway } = await import('../../gateway/dev.js');
  const dev = await startDevGateway({
    port: opts.port ?? 8787,
    mcpUpstream: opts.mcpUpstream,
    logger: cli.logger,
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  const s = cli.errStyle;
  cli.note(`${s.bold('portcullis gateway')} (dev mode) is running.`);
  cli.note('');
  cli.note(`  MCP server URL   ${dev.mcpUrl}`);
  cli.note(`  Authorization    ${dev.issuer}  (built-in dev IdP: user "${DEV_USER.username}", any password)`);
  cli.note(`  State            SQLite and key file under ${opts.stateDir ?? './.portcullis'}`);
  cli.note('');
  cli.note('Try it from another terminal:');
  cli.note(`  npx portcullis login ${dev.mcpUrl}`);
  cli.note(`  npx portcullis tools ${dev.mcpUrl}`);
  cli.note(`  npx portcullis call ${dev.mcpUrl} echo --args '{"text":"hello"}'`);
  cli.note('(from this checkout: node --import tsx src/cli/main-entry.ts instead of npx portcullis)');
  cli.note('');
  cli.note('Press Ctrl-C to stop.');
  await untilStopped(cli);
  await dev.close();
  return ExitCode.ok;
}

async function runConfigured(
  cli: Cli,
  opts: {
    file: string | undefined;
    mcpUpstream: { http: string } | { stdio: string[]; env?: Record<string, string> } | undefined;
    port: number | undefined;
    host: string | undefined;
  },
): Promise<number> {
  if (!opts.file)
    throw usage('pass --config <file> (see docs/gateway.md), or --dev for the embedded default');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(opts.file, 'utf8'));
  } catch (cause) {
    throw usage(`cannot read the gateway config ${opts.file}: ${(cause as Error).message}`);
  }
  const { parseGatewayConfig } = await import('../../gateway/config.js');
  const { openGateway } = await import('../../gateway/open.js');
  const { startGatewayServer } = await import('../../gateway/server.js');
  const config = parseGatewayConfig({
    ...(raw as object),
    ...(opts.mcpUpstream ? { mcpUpstream: opts.mcpUpstream } : {}),
  });
  const gateway = await openGateway(config, { logger: cli.logger });
  const listen = new URL(config.issuer);
  const server = await startGatewayServer(gateway, {
    port: opts.port ?? (Number(listen.port) || 8787),
    host: opts.host ?? '127.0.0.1',
    logger: cli.logger,
  });
  cli.note(`portcullis gateway listening on ${server.url}; MCP endpoint ${config.resource}`);
  await untilStopped(cli);
  await server.close();
  return ExitCode.ok;
}

/** Resolves on Ctrl-C / SIGTERM (the CLI's abort signal). */
function untilStopped(cli: Cli): Promise<void> {
  if (cli.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => cli.signal.addEventListener('abort', () => resolve(), { once: true }));
}
