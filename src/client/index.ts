/** `portcullis/client`: the OAuth engine for MCP hosts. */

export { OAuthError } from '../oauth/errors.js';
export { type AuthFetchOptions, createAuthFetch } from './auth-fetch.js';
export type { PreparedAuthorization } from './authorizer.js';
export { Authorizer, type GrantOption } from './authorizer.js';
export { browserCommand, openBrowser } from './browser.js';
export { ClientError, type ClientErrorCode, isClientError } from './errors.js';
export type { ConnectionKey } from './key-store.js';
export { createLoopbackInteraction, type LoopbackOptions } from './loopback.js';
export {
  type AddServer,
  type CallToolResult,
  type ConnectionManager,
  type ConnectionManagerOptions,
  createConnectionManager,
  type McpTool,
  type RequestOptions,
} from './manager.js';
export { type ConnectionEventMap, ConnectionEvents, type ConnectionEventType } from './manager-events.js';
export type { ServerEntry, ServerStatus, ServerStatusKind } from './manager-status.js';
export { type ProbeOptions, type ProbeResult, probe } from './probe.js';
export type { RegistrationOptions } from './registration.js';
export {
  type RevocableToken,
  type RevocationResult,
  type RevokeOptions,
  removeServerState,
  revokeServerTokens,
} from './revoke.js';
export {
  type ClientRecord,
  forgetServer,
  readServerState,
  type ServerRecord,
  type TokenRecord,
} from './state.js';
export type { AuthFetch, Interaction } from './types.js';
export {
  type BeginLogin,
  type CompletedLogin,
  createWebFlow,
  type WebFlow,
  type WebFlowOptions,
} from './web-flow.js';
