/** Helpers every command definition uses. */
import type { Command } from 'commander';
import type { Cli } from './context.js';

/**
 * Wraps a command's action: a returned number becomes the exit code; a thrown error is
 * rendered by main (src/cli/errors.ts).
 */
export function action<A extends unknown[]>(
  cli: Cli,
  run: (...args: A) => Promise<number | undefined>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const code = await run(...args);
    if (code !== undefined) cli.exitCode = code;
  };
}

/** An option's value only when it was given on the command line (not a commander default). */
export function fromCommandLine<T>(command: Command, name: string): T | undefined {
  return command.getOptionValueSource(name) === 'cli' ? (command.getOptionValue(name) as T) : undefined;
}
