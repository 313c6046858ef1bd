/**
 * The `portcullis` command line: global options, then one file per command in `commands/`.
 * Adding a command is one entry in `COMMANDS`.
 */
import { Command } from 'commander';
import { callCommand } from './commands/call.js';
import { connectCommand } from './commands/connect.js';
import { doctorCommand } from './commands/doctor.js';
import { gatewayCommand } from './commands/gateway.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { statusCommand } from './commands/status.js';
import { toolsCommand } from './commands/tools.js';
import type { Cli, GlobalOptions } from './context.js';
import { LOG_LEVELS } from './logger.js';
import { VERSION } from './version.js';

/** Defines one subcommand on `program`; its action runs with `cli`. */
export type CommandDefinition = (program: Command, cli: Cli) => void;

export const COMMANDS: CommandDefinition[] = [
  loginCommand,
  statusCommand,
  logoutCommand,
  toolsCommand,
  callCommand,
  doctorCommand,
  connectCommand,
  gatewayCommand,
];

const EXIT_CODES = `
Exit codes:
  0    success
  1    failure (see the message)
  2    usage or configuration error
  3    a login is needed (not logged in, or the stored login no longer works)
  4    the server or the network could not be reached
  5    the tool answered with isError (call)
  130  cancelled (Ctrl-C)

Environment: PORTCULLIS_HOME, PORTCULLIS_LOG_LEVEL, PORTCULLIS_CLIENT_ID, PORTCULLIS_CLIENT_SECRET,
PORTCULLIS_KEY (32-byte store key; default: <home>/store.key), BROWSER, NO_COLOR.`;

export function createProgram(cli: Cli, commands: CommandDefinition[] = COMMANDS): Command {
  const program = new Command('portcullis')
    .description('OAuth 2.1 for MCP servers: log in once, stay logged in, call tools, diagnose.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option(
      '--log-level <level>',
      `log level on stderr: ${LOG_LEVELS.join(', ')} (env PORTCULLIS_LOG_LEVEL; default warn)`,
    )
    .option('--home <dir>', 'where state and config live (env PORTCULLIS_HOME; default: platform config dir)')
    .option('--config <file>', 'the config file (default: <home>/config.json)')
    // Settings inherited by every subcommand defined below.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => cli.io.stdout.write(text),
      writeErr: (text) => cli.io.stderr.write(text),
    })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError()
    .addHelpText('after', EXIT_CODES)
    .hook('preAction', (_program, command) => cli.configure(command.optsWithGlobals<GlobalOptions>()));
  for (const define of commands) define(program, cli);
  return program;
}
