/**
 * The gateway's configuration: one zod schema, parsed once at the edge (a config file, the CLI,
 * `startDevGateway`). Everything inside the gateway trusts the parsed `GatewayConfig`.
 *
 * Durations are seconds unless the name says otherwise.
 */
import { z } from 'zod';
import { isLoopbackHost } from '../oauth/url-rules.js';

const httpUrl = z.url({ protocol: /^https?$/ });
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token'); // RFC 6749 §3.3
const seconds = z.number().int().positive();

/** Federation target: any OpenID Connect IdP by issuer URL (discovery, PKCE, nonce, ID token). */
export const OidcUpstreamConfig = z.strictObject({
  type: z.literal('oidc'),
  issuer: httpUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  /** How the gateway authenticates to the IdP's token endpoint. */
  tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
  scopes: z.array(scopeToken).default(['openid', 'profile', 'email', 'offline_access']),
  /** Which ID token claim becomes the gateway user id. */
  subjectClaim: z.string().default('sub'),
});

/** The built-in login page for `--dev` and demos: users from config, passwords optional. */
export const DevUpstreamConfig = z.strictObject({
  type: z.literal('dev'),
  users: z
    .array(
      z.strictObject({
        username: z.string().min(1).max(64),
        password: z.string().optional(),
        name: z.string().optional(),
        email: z.string().optional(),
      }),
    )
    .min(1),
  /** Lifetime of the dev IdP's own access tokens, to exercise the gateway's upstream refresh. */
  accessTokenTtl: seconds.default(300),
});

export const UpstreamConfig = z.discriminatedUnion('type', [OidcUpstreamConfig, DevUpstreamConfig]);

/** A pre-registered client (MCP §Preregistration). A secret makes it confidential. */
export const StaticClientConfig = z.strictObject({
  clientId: z.string().min(1),
  /** Plaintext secret (hashed on load) … */
  clientSecret: z.string().min(16).optional(),
  /** … or its SHA-256, base64url, so the config file holds no secret. */
  clientSecretSha256: z.string().optional(),
  clientName: z.string().max(200).optional(),
  redirectUris: z.array(z.string()).min(1),
  tokenEndpointAuthMethod: z.enum(['none', 'client_secret_basic', 'client_secret_post']).optional(),
  grantTypes: z
    .array(z.enum(['authorization_code', 'refresh_token']))
    .default(['authorization_code', 'refresh_token']),
});

/** The MCP server behind the gateway; built by `src/gateway/mcp`. */
export const McpUpstreamConfig = z.union([
  z.strictObject({
    http: httpUrl,
    headers: z.record(z.string(), z.string()).optional(),
    /** What the upstream receives as credentials: the user's IdP token, the static headers, or nothing. */
    credential: z.enum(['upstream-token', 'static', 'none']).default('none'),
  }),
  z.strictObject({
    stdio: z.array(z.string()).min(1),
    /** Env templates such as `{ "MCP_USER": "{{user.id}}", "TOKEN_FILE": "{{upstream.access_token_file}}" }`. */
    env: z.record(z.string(), z.string()).optional(),
  }),
]);

/** Token bucket: `burst` requests at once, refilled at `perMinute`. */
const RateLimit = z.strictObject({ burst: z.number().int().positive(), perMinute: z.number().positive() });

export const GatewayConfigSchema = z
  .strictObject({
    /** Public URL of the gateway: the AS `issuer` (RFC 8414 §2), no query or fragment. */
    issuer: httpUrl,
    /** Path of the MCP endpoint under the issuer's origin. */
    mcpPath: z
      .string()
      .regex(/^\/[^?#]*$/)
      .default('/mcp'),
    resourceName: z.string().optional(),
    /** Dev mode: plain http on loopback and non-`__Host-` cookies (the one documented exception). */
    dev: z.boolean().default(false),
    upstream: UpstreamConfig,
    mcpUpstream: McpUpstreamConfig.optional(),
    clients: z.array(StaticClientConfig).default([]),
    registration: z
      .strictObject({
        /** RFC 7591 dynamic registration (deprecated by MCP 2026-07-28 in favour of CIMD). */
        enabled: z.boolean().default(true),
        /** Private-use URI schemes allowed for native apps (RFC 8252 §7.1), e.g. `claude`, `cursor`. */
        redirectSchemes: z.array(z.string().regex(/^[a-z][a-z0-9+.-]*$/)).default([]),
        /** Registrations expire after this long unused; absent = never. */
        ttlSeconds: seconds.optional(),
      })
      .prefault({}),
    cimd: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024), // CIMD §6.6
        timeoutMs: z.number().int().positive().default(5_000),
        minCacheSeconds: z.number().int().nonnegative().default(60),
        maxCacheSeconds: seconds.default(24 * 3600),
        /** Cache lifetime when the response has no caching headers. */
        defaultCacheSeconds: z.number().int().nonnegative().default(300),
      })
      .prefault({}),
    scopes: z
      .strictObject({
        supported: z.array(scopeToken).min(1).default(['mcp']),
        /** Granted when the client asks for none. */
        default: z.array(scopeToken).optional(),
        /** Needed on the MCP endpoint; a token without them gets 403 insufficient_scope. */
        required: z.array(scopeToken).optional(),
      })
      .prefault({}),
    tokens: z
      .strictObject({
        accessTokenTtl: seconds.default(3600),
        refreshTokenTtl: seconds.default(30 * 24 * 3600),
        codeTtl: seconds.max(600).default(600), // OAuth 2.1 §4.1.2: ≤ 10 min
        refreshGraceSeconds: z.number().int().nonnegative().max(300).default(30),
        /**
         * How long a verified access token is remembered in each process (0: read the store on
         * every MCP request). Revocation through the same process is immediate either way; other
         * replicas sharing the store see it within this time (docs/decisions/0021).
         */
        accessTokenCacheSeconds: z.number().int().nonnegative().max(60).default(5),
      })
      .prefault({}),
    sessionTtl: seconds.default(12 * 3600),
    consentTtl: seconds.default(30 * 24 * 3600),
    interactionTtl: seconds.max(600).default(600), // A35: upstream state expires in ~10 min
    upstreamRefreshSkewSeconds: z.number().int().nonnegative().default(60),
    /** Origins allowed to call the MCP endpoint from a browser (CORS and the Origin check). */
    corsOrigins: z.array(z.string()).default([]),
    /** 32-byte key (base64/base64url/hex) sealing upstream IdP tokens at rest; else `PORTCULLIS_KEY` / key file. */
    encryptionKey: z.string().optional(),
    /** A store spec for `openStore`: `memory:`, `sqlite:<path>`, `redis://…`, `postgres://…`. */
    store: z.string().default('memory:'),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    rateLimits: z
      .strictObject({
        register: RateLimit.default({ burst: 10, perMinute: 10 }),
        token: RateLimit.default({ burst: 60, perMinute: 600 }),
        authorize: RateLimit.default({ burst: 30, perMinute: 60 }),
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    /** Take the client IP from the first `X-Forwarded-For` hop (only behind a trusted proxy). */
    trustProxy: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const url = new URL(c.issuer);
    if (url.search || url.hash)
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'no query or fragment' });
    // OAuth 2.1 §1.5 / A5: https, with plain http only on loopback in dev mode.
    if (url.protocol === 'http:' && !(c.dev && isLoopbackHost(url.hostname))) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'must be https (http only on loopback with dev: true)',
      });
    }
    const supported = new Set(c.scopes.supported);
    for (const key of ['default', 'required'] as const) {
      for (const s of c.scopes[key] ?? []) {
        if (!supported.has(s))
          ctx.addIssue({ code: 'custom', path: ['scopes', key], message: `${s} not supported` });
      }
    }
    for (const [i, client] of c.clients.entries()) {
      if (client.clientSecret && client.clientSecretSha256) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i],
          message: 'give clientSecret or clientSecretSha256, not both',
        });
      }
    }
  });

export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type ParsedGatewayConfig = z.output<typeof GatewayConfigSchema>;
export type UpstreamConfig = z.output<typeof UpstreamConfig>;
export type OidcUpstreamConfig = z.output<typeof OidcUpstreamConfig>;
export type DevUpstreamConfig = z.output<typeof DevUpstreamConfig>;
export type StaticClientConfig = z.output<typeof StaticClientConfig>;
export type McpUpstreamConfig = z.output<typeof McpUpstreamConfig>;

/** The parsed config plus the URLs every endpoint needs, derived once. */
export interface GatewayConfig extends ParsedGatewayConfig {
  /** `issuer` without a trailing slash: the exact string in metadata and `iss`. */
  issuer: string;
  /** The canonical MCP URL: PRM `resource` and every token's audience (RFC 8707). */
  resource: string;
  /** Path prefix of the issuer (`''` for an origin-only issuer). */
  basePath: string;
  defaultScopes: string[];
  requiredScopes: string[];
}

/** Parses and derives; throws an Error listing every problem (never a secret value). */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid gateway configuration:\n${lines.join('\n')}`);
  }
  const parsed = result.data;
  const url = new URL(parsed.issuer);
  const basePath = url.pathname.replace(/\/+$/, '');
  const issuer = `${url.origin}${basePath}`;
  return {
    ...parsed,
    issuer,
    basePath,
    resource: `${url.origin}${parsed.mcpPath}`,
    defaultScopes: parsed.scopes.default ?? parsed.scopes.supported,
    requiredScopes: parsed.scopes.required ?? parsed.scopes.default ?? parsed.scopes.supported,
  };
}
