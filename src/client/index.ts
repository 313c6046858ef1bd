/** `portcullis/client`: the OAuth engine for MCP hosts. */
export { type AuthFetchOptions, createAuthFetch } from './auth-fetch.js';
export { Authorizer, type GrantOption } from './authorizer.js';
export { browserCommand, openBrowser } from './browser.js';
export { ClientError, type ClientErrorCode, isClientError } from './errors.js';
export { createLoopbackInteraction, type LoopbackOptions } from './loopback.js';
export type { RegistrationOptions } from './registration.js';
export {
  type ClientRecord,
  forgetServer,
  readServerState,
  type ServerRecord,
  type TokenRecord,
} from './state.js';
export type { AuthFetch, Interaction } from './types.js';
export { OAuthError } from '../oauth/errors.js';
