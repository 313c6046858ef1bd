// Loader hook + module in one file (Node 20 only, see register.mjs). As a hook it resolves
// every ESM import of "fs"/"node:fs" to this file; as a module it re-exports node:fs and adds
// a small `globSync` (the conformance CLI uses it only in `tier-check`, to find checks.json).
import { readdirSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = import.meta.url.split('?')[0];

export async function resolve(specifier, context, next) {
  const fromHere = context.parentURL?.split('?')[0] === self;
  if (!fromHere && (specifier === 'fs' || specifier === 'node:fs')) {
    return { url: `${self}?as=fs`, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export * from 'node:fs';
export { default } from 'node:fs';

const toRegExp = (pattern) =>
  new RegExp(
    `^${pattern
      .split(/(\*\*\/|\*\*|\*|\?)/)
      .map((part) =>
        part === '**/'
          ? '(?:.*/)?'
          : part === '**'
            ? '.*'
            : part === '*'
              ? '[^/]*'
              : part === '?'
                ? '[^/]'
                : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
      )
      .join('')}$`,
  );

export function globSync(patterns, options = {}) {
  const cwd = options.cwd instanceof URL ? fileURLToPath(options.cwd) : (options.cwd ?? process.cwd());
  const res = [].concat(patterns).map(toRegExp);
  return readdirSync(cwd, { recursive: true })
    .map(String)
    .filter((p) => res.some((re) => re.test(p.split(sep).join('/'))));
}
