/**
 * Where a client_id is looked up: static clients from config first, then Client ID Metadata
 * Documents (https URL ids), then dynamically registered clients in the store.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../../store/store.js';
import type { StaticClientConfig } from '../config.js';
import { type CimdOptions, isClientIdMetadataUrl, resolveMetadataDocumentClient } from './cimd.js';
import type { RegisteredClient } from './types.js';

export const CLIENTS_NS = 'gateway:clients';

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

function fromStatic(c: StaticClientConfig): RegisteredClient {
  const secretHash = c.clientSecretSha256 ?? (c.clientSecret ? sha256(c.clientSecret) : undefined);
  return {
    clientId: c.clientId,
    ...(c.clientName ? { clientName: c.clientName } : {}),
    redirectUris: c.redirectUris,
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod ?? (secretHash ? 'client_secret_basic' : 'none'),
    grantTypes: c.grantTypes,
    ...(secretHash ? { secretHash } : {}),
    source: { kind: 'static' },
  };
}

export class ClientRegistry {
  readonly #statics: Map<string, RegisteredClient>;

  constructor(
    private readonly o: {
      store: Store;
      statics: StaticClientConfig[];
      /** Absent when CIMD is disabled: URL client ids are then unknown. */
      cimd: CimdOptions | undefined;
      registrationTtl: number | undefined;
    },
  ) {
    this.#statics = new Map(o.statics.map((c) => [c.clientId, fromStatic(c)]));
  }

  /** The client, or undefined when unknown; a CIMD client whose document fails throws invalid_client. */
  async find(clientId: string): Promise<RegisteredClient | undefined> {
    const fixed = this.#statics.get(clientId);
    if (fixed) return fixed;
    if (isClientIdMetadataUrl(clientId)) {
      return this.o.cimd ? resolveMetadataDocumentClient(clientId, this.o.cimd) : undefined;
    }
    return this.o.store.get<RegisteredClient>(CLIENTS_NS, clientId);
  }

  /** Stores a dynamically registered client (RFC 7591). */
  async saveRegistered(client: RegisteredClient): Promise<void> {
    await this.o.store.set(
      CLIENTS_NS,
      client.clientId,
      client,
      this.o.registrationTtl ? { ttlSeconds: this.o.registrationTtl } : {},
    );
  }
}
