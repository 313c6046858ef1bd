// The benchmark's servers run as shipped: bundled and minified by esbuild like scripts/build.mjs
// (no tsx loader, no keep-names wrappers), packages left external and resolved from node_modules.
import { build } from 'esbuild';

/** Bundles `entry` to `bench/.cache/gateway/<name>.mjs` and returns that path. */
export async function bundleServers(entry: string, name: string, opts: { minify?: boolean } = {}) {
  const outfile = `bench/.cache/gateway/${name}.mjs`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    minify: opts.minify ?? true,
    logLevel: 'warning',
  });
  return outfile;
}
