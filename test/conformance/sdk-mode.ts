/**
 * CONFORMANCE_MODE=sdk: the SDK drives its own auth flow through `PortcullisOAuthProvider`.
 * The SDK throws `UnauthorizedError` after a login; the code is then handed to
 * `transport.finishAuth`, and the operation retried (a failed connect needs a fresh transport).
 */

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AuthFetchOptions } from '../../src/client/auth-fetch.js';
import { PortcullisOAuthProvider } from '../../src/sdk/provider.js';
import type { Store } from '../../src/store/store.js';

export async function sdkSession(
  serverUrl: string,
  store: Store,
  auth: Omit<AuthFetchOptions, 'serverUrl' | 'store'>,
) {
  const grant = auth.grant && auth.grant.type !== 'authorization_code' ? auth.grant : undefined;
  const provider = new PortcullisOAuthProvider({
    serverUrl,
    store,
    ...(auth.interaction ? { interaction: auth.interaction } : {}),
    ...(auth.registration?.clientId ? { clientId: auth.registration.clientId } : {}),
    ...(auth.registration?.clientSecret ? { clientSecret: auth.registration.clientSecret } : {}),
    ...(auth.registration?.tokenEndpointAuthMethod
      ? { tokenEndpointAuthMethod: auth.registration.tokenEndpointAuthMethod }
      : {}),
    ...(auth.registration?.clientMetadataUrl
      ? { clientMetadataUrl: auth.registration.clientMetadataUrl }
      : {}),
    ...(grant ? { grant } : {}),
    ...(auth.privateKeyPem ? { privateKeyPem: auth.privateKeyPem } : {}),
    ...(auth.signingAlgorithm ? { signingAlgorithm: auth.signingAlgorithm } : {}),
  });
  await provider.prepare();
  let transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });

  async function withAuth<T>(op: () => Promise<T>, retries = 3): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await op();
      } catch (err) {
        const code = provider.takeAuthorizationCode();
        if (!(err instanceof UnauthorizedError) || !code || i >= retries) throw err;
        await transport.finishAuth(code);
      }
    }
  }

  return {
    async connect(client: Client) {
      let attempt = 0;
      await withAuth(() => {
        if (attempt++ > 0)
          transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
        return client.connect(transport);
      });
    },
    withAuth,
    close: () => transport.close(),
  };
}
