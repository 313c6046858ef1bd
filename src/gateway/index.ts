/** The gateway: an OAuth 2.1 authorization server and protected resource in front of an MCP server. */
export {
  type GatewayConfig,
  type GatewayConfigInput,
  GatewayConfigSchema,
  type McpUpstreamConfig,
  parseGatewayConfig,
} from './config.js';
export type { RequestInfo } from './context.js';
export { DEV_USER, type DevGateway, type DevGatewayOptions, startDevGateway } from './dev.js';
export { GatewayError, renderError } from './errors.js';
export { createGateway, type Gateway, type GatewayDeps } from './gateway.js';
export type { McpEndpoint, McpPrincipal } from './mcp/types.js';
export { mcpEndpointFor, type OpenGatewayOptions, openGateway } from './open.js';
export { type GatewayServer, type GatewayServerOptions, startGatewayServer } from './server.js';
export type { AccessTokenCheck, GrantRecord, TokenSet } from './tokens/grants.js';
export type {
  UpstreamIdentity,
  UpstreamIdentityProvider,
  UpstreamLoginRequest,
  UpstreamTokens,
} from './upstream/types.js';
