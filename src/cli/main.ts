/**
 * `main(argv)`: runs one command and resolves to its exit code (docs/cli.md), never calling
 * `process.exit` itself, so tests and the launcher decide. Ctrl-C aborts the running command
 * through an AbortSignal (exit 130); a second Ctrl-C exits at once.
 */
import { CommanderError } from 'commander';
import { Cli, type CliIo } from './context.js';
import { CliError, ExitCode, renderError } from './errors.js';
import { createProgram } from './program.js';

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export async function main(argv: string[] = process.argv, io: CliIo = processIo()): Promise<number> {
  const controller = new AbortController();
  const cli = new Cli(io, controller.signal);
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(signal === 'SIGINT' ? ExitCode.aborted : 143); // second one: now
    interrupted = signal;
    controller.abort(new CliError('aborted', 'cancelled'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await createProgram(cli).parseAsync(argv);
    if (interrupted) return cancelled(cli, interrupted);
    return cli.exitCode;
  } catch (error) {
    // Commander already printed its message (unknown option, missing argument…) or the help.
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (interrupted) return cancelled(cli, interrupted);
    const rendered = renderError(error, { serverUrl: cli.serverUrl, secrets: cli.secrets });
    cli.note(`error: ${rendered.message}`);
    if (rendered.hint) cli.note(`  ${rendered.hint}`);
    cli.logger.debug({ err: error }, 'failure details');
    return rendered.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cli.close().catch(() => {});
  }
}

function cancelled(cli: Cli, signal: NodeJS.Signals): number {
  cli.note('Cancelled.');
  return signal === 'SIGINT' ? ExitCode.aborted : 143;
}

/**
 * For the launcher: runs `main`, sets the exit code, and makes sure nothing left holding the
 * event loop (a keep-alive socket, stdin) keeps a finished command alive.
 */
export async function runCli(argv: string[] = process.argv): Promise<void> {
  // `portcullis tools … | head -1`: a reader that went away is not a failure of the command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  process.exitCode = await main(argv);
  setTimeout(() => process.exit(), 1_000).unref();
}
