/**
 * Outbound proxies for corporate networks: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (either case)
 * are honoured with undici's `EnvHttpProxyAgent`, which Node 20's built-in fetch does not do by
 * itself. undici is loaded only when a proxy is configured, so a direct connection pays nothing
 * for it. Extra CAs come from `NODE_EXTRA_CA_CERTS`, which Node applies to every TLS connection.
 */
import type { Logger } from '../logger.js';
import type { FetchLike } from '../transport/types.js';

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

export function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return PROXY_VARS.some((name) => Boolean(env[name]));
}

/** `globalThis.fetch`, or undici's fetch through an `EnvHttpProxyAgent` when a proxy variable is set. */
export async function createBaseFetch(env: NodeJS.ProcessEnv, logger: Logger): Promise<FetchLike> {
  if (!proxyConfigured(env)) return globalThis.fetch;
  // undici's own fetch with its own agent: mixing its dispatcher with Node's bundled fetch is not supported.
  const { EnvHttpProxyAgent, fetch } = await import('undici');
  const httpProxy = env['HTTP_PROXY'] || env['http_proxy'];
  const httpsProxy = env['HTTPS_PROXY'] || env['https_proxy'] || httpProxy;
  const noProxy = env['NO_PROXY'] ?? env['no_proxy'];
  const agent = new EnvHttpProxyAgent({
    ...(httpProxy ? { httpProxy } : {}),
    ...(httpsProxy ? { httpsProxy } : {}),
    ...(noProxy !== undefined ? { noProxy } : {}),
  });
  logger.info({ proxy: redactProxy(httpsProxy), noProxy }, 'using the proxy from the environment');
  return ((input, init) =>
    fetch(input as Parameters<typeof fetch>[0], { ...(init as object), dispatcher: agent })) as FetchLike;
}

/** A proxy URL may carry credentials; logs get its origin only. */
function redactProxy(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value).origin;
  } catch {
    return '(unparseable)';
  }
}
