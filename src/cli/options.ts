/**
 * Parsing of command-line values, each failing with a usage error (exit 2) that names the flag
 * and what a valid value looks like.
 */

import { HTTP_TOKEN } from '../http-syntax.js';
import { OAuthError } from '../oauth/errors.js';
import { assertSecureUrl, canonicalResourceUrl } from '../oauth/url-rules.js';
import { CliError } from './errors.js';

/** RFC 9110 §5.1 field-name token. */
/** A valid HTTP header name (RFC 9110 token). */
export const HEADER_NAME = HTTP_TOKEN;

/**
 * An MCP server URL as the client core keys it (MCP §Canonical Server URI): https, or http on
 * loopback (or anywhere with `allowHttp`).
 */
export function parseServerUrl(input: string, opts: { allowHttp?: boolean | undefined } = {}): string {
  try {
    return canonicalResourceUrl(
      assertSecureUrl(input, 'the MCP server URL', { allowHttp: opts.allowHttp ?? false }),
    );
  } catch (cause) {
    const why = cause instanceof OAuthError ? (cause.description ?? cause.message) : String(cause);
    const http = /^http:/i.test(input);
    throw new CliError('usage', `${why}`, {
      hint: http
        ? 'use https, or pass --allow-http to send credentials in cleartext (never over a network you do not trust)'
        : 'pass the full URL of the MCP endpoint, e.g. https://mcp.example.com/mcp',
      cause,
    });
  }
}

/** A canonical URL for commands that only look the server up (`status`, `logout`). */
export function parseStoredServerUrl(input: string): string {
  try {
    return canonicalResourceUrl(input);
  } catch (cause) {
    throw new CliError('usage', `"${input}" is not a URL`, {
      hint: 'pass the MCP server URL you logged in to (see: portcullis status)',
      cause,
    });
  }
}

/** Commander collector for a repeatable `--header "Name: value"`. */
export function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const colon = value.indexOf(':');
  const name = colon > 0 ? value.slice(0, colon).trim() : '';
  const headerValue = colon > 0 ? value.slice(colon + 1).trim() : '';
  if (!HEADER_NAME.test(name) || /[\r\n]/.test(headerValue)) {
    // The value is not echoed: it is often a credential.
    throw new CliError('usage', '--header needs "Name: value": a header name, a colon, then the value', {
      hint: 'e.g. --header "X-Api-Key: abc123"',
    });
  }
  const lower = name.toLowerCase();
  if (lower === 'authorization' || lower === 'dpop') {
    throw new CliError('usage', `--header ${name}: portcullis sets this header itself from the OAuth login`, {
      hint: 'to send a credential of your own beside OAuth, use another header name',
    });
  }
  return { ...previous, [name]: headerValue };
}

/** A TCP port for the login callback. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65_535) {
    throw new CliError('usage', `--port must be a TCP port number from 1 to 65535, got "${value}"`);
  }
  return port;
}

/** `--args`: a JSON object of tool arguments (MCP tools/call `arguments`). */
export function parseToolArguments(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (cause) {
    throw new CliError('usage', `--args is not valid JSON: ${(cause as Error).message}`, {
      hint: `pass a JSON object, quoted for your shell, e.g. --args '{"text":"hi"}'`,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const got = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    throw new CliError('usage', `--args must be a JSON object of tool arguments, got ${got}`, {
      hint: `e.g. --args '{"text":"hi"}'`,
    });
  }
  return parsed as Record<string, unknown>;
}
