/**
 * The listener's TLS: server options from tlsCert/tlsKey/tlsCa (PEM files), and the secure context that
 * SIGHUP swaps in (tls.Server#setSecureContext: new handshakes use the new certificate, open connections keep
 * theirs, nothing is dropped). With tlsCa, clients must present a certificate signed by it (mutual TLS).
 */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { BrokerConfig } from './broker-config.js';

export function tlsEnabled(config: BrokerConfig): boolean {
  return config.tlsCert !== null && config.tlsKey !== null;
}

/** Reads the PEM files (throws with the file that failed). */
export function readSecureContext(config: BrokerConfig): SecureContextOptions {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    cert: read('tlsCert', config.tlsCert!),
    key: read('tlsKey', config.tlsKey!),
    ...(config.tlsCa !== null ? { ca: read('tlsCa', config.tlsCa) } : {}),
  };
}

/** fastify's `http` or `https` server options: `base` (limits, timeouts) plus the TLS settings when on. */
export function listenerOptions<T extends object>(config: BrokerConfig, base: T): { http: T } | { https: T & SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } } {
  if (!tlsEnabled(config)) return { http: base };
  const mutual = config.tlsCa !== null;
  return { https: { ...base, ...readSecureContext(config), requestCert: mutual, rejectUnauthorized: mutual } };
}
