/**
 * The options every oauth4webapi request takes here: our fetch (injected, bounded), and
 * `allowInsecureRequests` only where our URL rules already allowed http (loopback, or --allow-http).
 */
import * as oauth from 'oauth4webapi';
import { boundedFetch } from '../oauth/bounded-fetch.js';
import { isLoopbackHost } from '../oauth/url-rules.js';

export interface RequestContext {
  fetch: typeof fetch;
  allowHttp: boolean;
  signal?: AbortSignal;
}

export function requestOptions(endpoint: string, ctx: RequestContext) {
  const url = new URL(endpoint);
  const insecure = url.protocol === 'http:' && (ctx.allowHttp || isLoopbackHost(url.hostname));
  return {
    [oauth.customFetch]: (input: string, init: RequestInit) =>
      boundedFetch(input, init, { fetch: ctx.fetch, ...(ctx.signal ? { signal: ctx.signal } : {}) }),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  };
}
