/**
 * `portcullis doctor <url>`: walks discovery step by step (src/cli/doctor-checks.ts), printing
 * ✓ / ! / ✗ per step with what to do, then what is stored for the server. Exit 0 when nothing
 * failed, 4 when the server could not be reached, 1 otherwise.
 */
import type { Command } from 'commander';
import { action } from '../command.js';
import type { Cli } from '../context.js';
import type { Step } from '../doctor-checks.js';
import { ExitCode } from '../errors.js';
import { collectHeader, parseServerUrl, parseStoredServerUrl } from '../options.js';
import { serverStatus, statusLines } from './status.js';

export function doctorCommand(program: Command, cli: Cli): void {
  program
    .command('doctor')
    .description("Check an MCP server's OAuth setup step by step, and say what is wrong and what to do")
    .argument('<url>', 'the MCP server URL')
    .option('--header <K:V>', 'a header to send with every request (repeatable)', collectHeader)
    .option('--allow-http', 'allow cleartext http to a server that is not on loopback')
    .action(
      action(cli, async (url: string, flags: { header?: Record<string, string>; allowHttp?: boolean }) => {
        const serverUrl = parseStoredServerUrl(url);
        cli.serverUrl = serverUrl;
        const settings = await cli.settingsFor(serverUrl, {
          headers: flags.header ?? {},
          ...(flags.allowHttp ? { allowHttp: true } : {}),
        });
        cli.out(`Checking ${serverUrl}`);
        cli.out();
        const steps: Step[] = [];
        const print = (step: Step) => {
          steps.push(step);
          const mark = { ok: cli.style.ok, warn: cli.style.warn, fail: cli.style.fail }[step.result];
          cli.out(mark(step.title));
          if (step.fix && step.result !== 'ok') cli.out(`    → ${step.fix}`);
        };
        try {
          parseServerUrl(serverUrl, { allowHttp: settings.allowHttp });
          print({ result: 'ok', title: `URL ${serverUrl}` });
        } catch (error) {
          print({
            result: 'fail',
            title: (error as Error).message,
            fix: 'use https (http is allowed only on 127.0.0.1/localhost, or with --allow-http)',
          });
        }
        if (!steps.some((s) => s.result === 'fail')) {
          const { runDoctorChecks } = await import('../doctor-checks.js');
          await runDoctorChecks({ serverUrl, settings, signal: cli.signal }, print);
        }

        const now = Date.now();
        const status = await serverStatus(cli, serverUrl, now);
        cli.out();
        cli.out('Stored state:');
        for (const line of statusLines(cli, status, now)) cli.out(line);

        cli.out();
        const failed = steps.filter((s) => s.result === 'fail');
        const warned = steps.filter((s) => s.result === 'warn');
        if (failed.length === 0) {
          cli.out(warned.length ? `No problems found (${warned.length} to note).` : 'No problems found.');
          return ExitCode.ok;
        }
        cli.out(`${failed.length} problem${failed.length > 1 ? 's' : ''} found.`);
        return failed.some((s) => s.unreachable) ? ExitCode.unreachable : ExitCode.failure;
      }),
    );
}
