export type { SdkGrant } from './grants.js';
export { PortcullisOAuthProvider, type PortcullisProviderOptions } from './provider.js';
