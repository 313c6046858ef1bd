export * from './bounded-fetch.js';
export * from './errors.js';
export * from './metadata.js';
export * from './pkce.js';
export * from './ssrf.js';
export * from './url-rules.js';
export * from './www-authenticate.js';
