/**
 * Every protocol step the Authorizer may take, in one module it loads on first use: a request
 * made with a valid stored token needs none of them, so neither oauth4webapi nor the metadata
 * schemas are parsed at start-up (the bridge's and the CLI's cold start).
 */
export { requestNonInteractiveTokens } from './assertion-grants.js';
export { buildAuthorizationRequest } from './authorization-request.js';
export { discoverProtectedResource, discoverServerRecord } from './discovery.js';
export { createDpopHandle, dpopResourceRequest, loadDpopKeyPair } from './dpop.js';
export { redeemAuthorizationCode, refreshAccessToken } from './grants.js';
export { registerClient } from './registration.js';
export { selectScopes } from './scopes.js';
