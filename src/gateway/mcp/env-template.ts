/**
 * Environment templates for stdio children: `{{user.id}}`, `{{client.id}}`, `{{scopes}}`,
 * `{{resource}}`, `{{upstream.access_token}}`, `{{upstream.access_token_file}}`,
 * `{{claims.<name>}}`. Checked when the gateway is configured (an unknown name is a configuration
 * error), rendered per session at spawn time. The upstream token reaches a stdio server only this
 * way (DESIGN: token model): as a value fixed at spawn, or as the path of a file the gateway keeps
 * fresh for the session (`token-file.ts`).
 */
import type { McpPrincipal } from './types.js';
import { requireUpstreamToken } from './upstream-token.js';

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;
const FIXED = new Set([
  'user.id',
  'client.id',
  'scopes',
  'resource',
  'upstream.access_token',
  'upstream.access_token_file',
]);
const CLAIM = /^claims\.[A-Za-z0-9_:.-]+$/;

export interface EnvRenderer {
  /** `tokenFile`: the session's upstream token file, required when `usesTokenFile`. */
  (principal: McpPrincipal, tokenFile?: string): Promise<Record<string, string>>;
  /** A template names `{{upstream.access_token_file}}`: the caller keeps that file for the session. */
  readonly usesTokenFile: boolean;
}

/** Compiles `env`; throws a `TypeError` naming the first unknown placeholder. */
export function compileEnvTemplate(env: Record<string, string>): EnvRenderer {
  let needsToken = false;
  let usesTokenFile = false;
  for (const [name, template] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new TypeError(`env: ${JSON.stringify(name)} is not a valid variable name`);
    }
    for (const match of template.matchAll(PLACEHOLDER)) {
      const key = match[1]!;
      if (!FIXED.has(key) && !CLAIM.test(key)) {
        throw new TypeError(`env ${name}: unknown placeholder {{${key}}}`);
      }
      if (key === 'upstream.access_token') needsToken = true;
      if (key === 'upstream.access_token_file') usesTokenFile = true;
    }
  }
  const entries = Object.entries(env);
  const render = async (principal: McpPrincipal, tokenFile?: string) => {
    if (usesTokenFile && tokenFile === undefined) {
      throw new TypeError('env: {{upstream.access_token_file}} needs the session token file');
    }
    const token = needsToken ? await requireUpstreamToken(principal) : undefined;
    const out: Record<string, string> = {};
    for (const [name, template] of entries) {
      // NUL cannot travel in an environment block; drop it rather than fail the spawn.
      out[name] = template
        .replace(PLACEHOLDER, (_, key: string) => lookup(key, principal, token, tokenFile))
        .replaceAll('\0', '');
    }
    return out;
  };
  return Object.assign(render, { usesTokenFile });
}

function lookup(
  key: string,
  p: McpPrincipal,
  token: string | undefined,
  tokenFile: string | undefined,
): string {
  switch (key) {
    case 'user.id':
      return p.userId;
    case 'client.id':
      return p.clientId;
    case 'scopes':
      return p.scopes.join(' ');
    case 'resource':
      return p.resource;
    case 'upstream.access_token':
      return token ?? '';
    case 'upstream.access_token_file':
      return tokenFile ?? '';
    default:
      return claimValue(p.claims[key.slice('claims.'.length)]);
  }
}

function claimValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
