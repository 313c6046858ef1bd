/**
 * `portcullis call <url> <tool> [--args <json>]`: MCP tools/call. Text parts are printed as text,
 * other parts as a one-line summary; `--json` prints the raw result. A result with `isError`
 * goes to stderr and exits 5.
 */
import type { Command } from 'commander';
import { action } from '../command.js';
import type { Cli } from '../context.js';
import { ExitCode } from '../errors.js';
import { parseToolArguments } from '../options.js';
import { type ServerCommandFlags, serverOptions } from '../server-options.js';

interface CallFlags extends ServerCommandFlags {
  args?: string;
}

interface ContentPart {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; mimeType?: string; text?: string; blob?: string };
}

export interface CallToolResult {
  content?: ContentPart[];
  structuredContent?: unknown;
  isError?: boolean;
  [key: string]: unknown;
}

export function callCommand(program: Command, cli: Cli): void {
  serverOptions(
    program
      .command('call')
      .description('Call a tool of an MCP server (logging in first if needed)')
      .argument('<url>', 'the MCP server URL')
      .argument('<tool>', 'the tool name (see: portcullis tools <url>)')
      .option('--args <json>', 'the tool arguments, a JSON object, e.g. \'{"text":"hi"}\''),
  ).action(
    action(cli, async (url: string, tool: string, flags: CallFlags) => {
      // Checked before anything goes over the network.
      const args = parseToolArguments(flags.args);
      const result = await (await import('../connection.js')).withSession(cli, url, flags, (session) =>
        session.request<CallToolResult>(
          'tools/call',
          { name: tool, arguments: args },
          { signal: cli.signal },
        ),
      );
      if (flags.json) {
        cli.out(JSON.stringify(result, null, 2));
      } else if (result.isError) {
        cli.note(`error: the tool ${tool} answered with an error:`);
        for (const line of renderContent(result)) cli.note(line);
      } else {
        for (const line of renderContent(result)) cli.out(line);
      }
      return result.isError ? ExitCode.toolError : ExitCode.ok;
    }),
  );
}

/** Text as text; images, audio and resources as a one-line summary (never their bytes). */
export function renderContent(result: CallToolResult): string[] {
  const parts = result.content ?? [];
  if (parts.length === 0 && result.structuredContent !== undefined)
    return [JSON.stringify(result.structuredContent, null, 2)];
  return parts.map((part) => {
    switch (part.type) {
      case 'text':
        return part.text ?? '';
      case 'image':
      case 'audio':
        return `[${part.type} ${part.mimeType ?? ''}, ${approximateBytes(part.data)} bytes; use --json for the data]`;
      case 'resource_link':
        return `[resource ${part.uri ?? ''}${part.name ? ` (${part.name})` : ''}]`;
      case 'resource':
        return (
          part.resource?.text ?? `[resource ${part.resource?.uri ?? ''} ${part.resource?.mimeType ?? ''}]`
        );
      default:
        return JSON.stringify(part);
    }
  });
}

/** Decoded size of base64 data. */
function approximateBytes(base64: string | undefined): number {
  if (!base64) return 0;
  return Math.floor((base64.length * 3) / 4) - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
}
