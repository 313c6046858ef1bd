/** The gateway's MCP side: what sits behind `/mcp` once the bearer token has been verified. */
export { DEFAULT_MAX_BODY_BYTES } from './body.js';
export { createHttpUpstream, type HttpUpstreamOptions } from './http-upstream.js';
export { McpHttpError } from './jsonrpc.js';
export {
  createOriginPolicy,
  type OriginPolicy,
  type OriginPolicyOptions,
  withOriginPolicy,
} from './origin.js';
export { errorToResponse, writeNodeError } from './render.js';
export { SESSION_PROTOCOL_VERSIONS, STATELESS_PROTOCOL_VERSIONS } from './request-metadata.js';
export {
  createStdioUpstream,
  type StdioSessionInfo,
  type StdioUpstream,
  type StdioUpstreamOptions,
} from './stdio-upstream.js';
export type { McpEndpoint, McpPrincipal } from './types.js';
