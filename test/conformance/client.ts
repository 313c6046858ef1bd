/**
 * The conformance client: the SDK's `Client` + `StreamableHTTPClientTransport`, with OAuth done
 * by portcullis — either the auth-aware fetch (CONFORMANCE_MODE=fetch, default) or the
 * `portcullis/sdk` OAuthClientProvider adapter (CONFORMANCE_MODE=sdk).
 * Contract: the suite runs `<command> <serverUrl>` with MCP_CONFORMANCE_SCENARIO and, for some
 * scenarios, MCP_CONFORMANCE_CONTEXT (JSON). Exit 0 on success, 1 on error.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { AuthFetchOptions } from '../../src/client/auth-fetch.js';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { headlessRedirectInteraction } from './headless-interaction.js';

const serverUrl = process.argv[process.argv.length - 1]!;
const scenario = process.env['MCP_CONFORMANCE_SCENARIO'] ?? '';
const context = JSON.parse(process.env['MCP_CONFORMANCE_CONTEXT'] ?? '{}') as Record<string, string>;
const mode = process.env['CONFORMANCE_MODE'] ?? 'fetch';
/** Auth scenarios whose mock MCP server speaks only the stateless 2026-07-28 revision. */
const STATELESS_ONLY = new Set(['auth/authorization-server-migration']);

function authOptions(): Omit<AuthFetchOptions, 'serverUrl' | 'store'> {
  const interaction = headlessRedirectInteraction();
  if (scenario === 'auth/client-credentials-basic') {
    return {
      grant: { type: 'client_credentials' },
      registration: {
        clientId: context['client_id']!,
        clientSecret: context['client_secret']!,
        tokenEndpointAuthMethod: 'client_secret_basic',
      },
    };
  }
  if (scenario === 'auth/client-credentials-jwt') {
    return {
      grant: { type: 'client_credentials' },
      registration: { clientId: context['client_id']!, tokenEndpointAuthMethod: 'private_key_jwt' },
      privateKeyPem: context['private_key_pem']!,
      ...(context['signing_algorithm'] ? { signingAlgorithm: context['signing_algorithm'] } : {}),
    };
  }
  if (
    scenario === 'auth/cross-app-access-complete-flow' ||
    scenario === 'auth/enterprise-managed-authorization'
  ) {
    return {
      grant: {
        type: 'id-jag',
        idToken: context['idp_id_token']!,
        idpTokenEndpoint: context['idp_token_endpoint']!,
        idpClientId: context['idp_client_id']!,
        ...(context['idp_client_secret'] ? { idpClientSecret: context['idp_client_secret'] } : {}),
      },
      registration: {
        clientId: context['client_id']!,
        clientSecret: context['client_secret']!,
        tokenEndpointAuthMethod: 'client_secret_basic',
      },
    };
  }
  if (scenario === 'auth/wif-jwt-bearer') {
    return {
      grant: { type: 'jwt-bearer', assertion: context['valid_jwt']! },
      registration: { clientId: context['client_id']!, tokenEndpointAuthMethod: 'none' },
    };
  }
  if (context['client_id']) {
    return {
      interaction,
      registration: {
        clientId: context['client_id'],
        ...(context['client_secret'] ? { clientSecret: context['client_secret'] } : {}),
      },
    };
  }
  return {
    interaction,
    registration: {
      clientMetadataUrl: 'https://conformance-test.local/client-metadata.json',
      clientName: 'portcullis-conformance',
    },
  };
}

async function main() {
  const store = createMemoryStore();
  const client = new Client(
    { name: 'portcullis-conformance', version: '1.0.0' },
    { capabilities: { elicitation: { form: { applyDefaults: true } } } },
  );
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: {} }));
  let close: () => Promise<void>;
  let run = <T>(op: () => Promise<T>) => op();
  if (STATELESS_ONLY.has(scenario)) {
    const { runStatelessHost } = await import('./stateless-host.js');
    await runStatelessHost(serverUrl, createAuthFetch({ serverUrl, store, ...authOptions() }));
    return;
  }
  if (mode === 'sdk') {
    const { sdkSession } = await import('./sdk-mode.js');
    const session = await sdkSession(serverUrl, store, authOptions());
    await session.connect(client);
    run = session.withAuth;
    close = session.close;
  } else {
    const fetch = createAuthFetch({ serverUrl, store, ...authOptions() });
    const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { fetch });
    await client.connect(transport);
    close = () => transport.close();
  }
  const { tools } = await run(() => client.listTools());
  const tool = tools.find((t) => t.name === 'test-tool') ?? tools[0];
  if (tool) {
    const required = (tool.inputSchema.required ?? []) as string[];
    const args = Object.fromEntries(required.map((k) => [k, 1]));
    await run(() => client.callTool({ name: tool.name, arguments: args }));
  }
  await close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`[${scenario}]`, err);
    process.exit(1);
  },
);
