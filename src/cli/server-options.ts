/**
 * Option definitions the server commands share. Kept apart from `connection.ts` (which loads the
 * whole client core) so defining the commands costs nothing at start-up.
 */
import type { Command } from 'commander';
import { collectHeader } from './options.js';

export interface ServerCommandFlags {
  header?: Record<string, string>;
  json?: boolean;
  browser: boolean;
  allowHttp?: boolean;
}

/** The options `tools` and `call` share. */
export function serverOptions(command: Command): Command {
  return command
    .option('--header <K:V>', 'a header to send with every request, beside OAuth (repeatable)', collectHeader)
    .option('--json', 'print the raw JSON result')
    .option('--no-browser', 'if a login is needed: print the URL and read the pasted redirect URL')
    .option('--allow-http', 'allow cleartext http to a server that is not on loopback');
}

/** Drops `undefined` members, as `exactOptionalPropertyTypes` wants. */
export function defined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
