/**
 * `portcullis tools <url>`: the server's tools (MCP tools/list, every page), one line each with
 * its arguments; `--json` prints the tool definitions as the server sent them. Logs in first if
 * no usable token is stored.
 */
import type { Command } from 'commander';
import type { McpSession } from '../../transport/mcp-session.js';
import { action } from '../command.js';
import type { Cli } from '../context.js';
import { ExitCode } from '../errors.js';
import { columns } from '../output.js';
import { type ServerCommandFlags, serverOptions } from '../server-options.js';

export interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: { properties?: Record<string, unknown>; required?: string[] };
  [key: string]: unknown;
}

/** tools/list, following `nextCursor` (MCP §Pagination), bounded against a server that loops. */
export async function listTools(cli: Cli, session: McpSession): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await session.request<{ tools?: Tool[]; nextCursor?: string }>(
      'tools/list',
      cursor ? { cursor } : {},
      { signal: cli.signal },
    );
    tools.push(...(result.tools ?? []));
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

/** `echo(text)`, `search(query, limit?)`: required arguments bare, optional ones with `?`. */
export function signature(tool: Tool): string {
  const properties = Object.keys(tool.inputSchema?.properties ?? {});
  const required = new Set(tool.inputSchema?.required ?? []);
  return `${tool.name}(${properties.map((p) => (required.has(p) ? p : `${p}?`)).join(', ')})`;
}

export function toolsCommand(program: Command, cli: Cli): void {
  serverOptions(
    program
      .command('tools')
      .description('List the tools of an MCP server (logging in first if needed)')
      .argument('<url>', 'the MCP server URL'),
  ).action(
    action(cli, async (url: string, flags: ServerCommandFlags) => {
      const tools = await (await import('../connection.js')).withSession(cli, url, flags, (session) =>
        listTools(cli, session),
      );
      if (flags.json) {
        cli.out(JSON.stringify(tools, null, 2));
      } else if (tools.length === 0) {
        cli.note('The server offers no tools.');
      } else {
        const rows = tools.map((tool): [string, string] => [
          signature(tool),
          (tool.description ?? tool.title ?? '').split('\n')[0]!.trim(),
        ]);
        for (const line of columns(rows, cli.io.stdout.isTTY ? cli.io.stdout.columns : undefined))
          cli.out(line);
      }
      return ExitCode.ok;
    }),
  );
}
