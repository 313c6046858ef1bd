/**
 * Environment templates for stdio children: `{{user.id}}`, `{{client.id}}`, `{{scopes}}`,
 * `{{resource}}`, `{{upstream.access_token}}`, `{{claims.<name>}}`. Checked when the gateway is
 * configured (an unknown name is a configuration error), rendered per session at spawn time.
 * The upstream token reaches a stdio server only this way (DESIGN: token model).
 */
import type { McpPrincipal } from './types.js';
import { requireUpstreamToken } from './upstream-token.js';

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;
const FIXED = new Set(['user.id', 'client.id', 'scopes', 'resource', 'upstream.access_token']);
const CLAIM = /^claims\.[A-Za-z0-9_:.-]+$/;

export type EnvRenderer = (principal: McpPrincipal) => Promise<Record<string, string>>;

/** Compiles `env`; throws a `TypeError` naming the first unknown placeholder. */
export function compileEnvTemplate(env: Record<string, string>): EnvRenderer {
  let needsToken = false;
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
    }
  }
  const entries = Object.entries(env);
  return async (principal) => {
    const token = needsToken ? await requireUpstreamToken(principal) : undefined;
    const out: Record<string, string> = {};
    for (const [name, template] of entries) {
      // NUL cannot travel in an environment block; drop it rather than fail the spawn.
      out[name] = template
        .replace(PLACEHOLDER, (_, key: string) => lookup(key, principal, token))
        .replaceAll('\0', '');
    }
    return out;
  };
}

function lookup(key: string, p: McpPrincipal, token: string | undefined): string {
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
