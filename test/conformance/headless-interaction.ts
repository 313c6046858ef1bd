/**
 * An Interaction for the conformance suite's mock AS, whose /authorize redirects at once:
 * follow it without a browser and return the redirect (the callback URL with code and state).
 */
import type { Interaction } from '../../src/client/types.js';

export function headlessRedirectInteraction(redirectUri = 'http://127.0.0.1:3999/callback'): Interaction {
  return {
    redirectUri: async () => redirectUri,
    async authorize(url, signal) {
      const response = await fetch(url, { redirect: 'manual', signal });
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (!location) throw new Error(`authorization endpoint answered ${response.status} without a redirect`);
      return new URL(location, url);
    },
  };
}
