// A stand-in for a person at a browser, for the CLI's end-to-end tests: the CLI runs it as
// $BROWSER ("node --import tsx <this file>"), with the authorization URL as its last argument.
// It is a real HTTP user agent (test/fixtures/browser-agent.ts): it follows the redirects,
// submits the IdP's login and consent forms, and loads the loopback redirect URI.
//
// FAKE_BROWSER_MODE: "login" (default) completes the login; "ignore" does nothing (a person who
// never comes back), for Ctrl-C tests. FAKE_BROWSER_LOG: a file to append what happened to.
import { appendFileSync } from 'node:fs';
import { completeAuthorization } from '../fixtures/browser-agent.js';

const url = process.argv.at(-1) ?? '';
const log = (line: string) => {
  const file = process.env['FAKE_BROWSER_LOG'];
  if (file) appendFileSync(file, `${line}\n`);
};

try {
  if (process.env['FAKE_BROWSER_MODE'] === 'ignore') {
    log(`ignored ${url}`);
  } else {
    const landed = await completeAuthorization(url, {
      login: process.env['FAKE_BROWSER_LOGIN'] ?? 'alice',
      password: process.env['FAKE_BROWSER_PASSWORD'] ?? 'alice-password',
    });
    log(`landed on ${landed.origin}${landed.pathname}`);
  }
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
