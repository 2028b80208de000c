/**
 * The connection flags of every command that talks to a broker: `--token` (env SLUICE_TOKEN) and `--ca FILE`
 * (env SLUICE_CA), plus `--client-cert`/`--client-key` for mutual TLS, turned into sluice/client's connection options.
 * The files are read here, so the broker commands stay free of file access.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from '../client/http.js';
import { CliFailure, EXIT_USAGE } from './errors.js';

export interface ConnectionFlags {
  token?: string;
  ca?: string;
  clientCert?: string;
  clientKey?: string;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliFailure(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, EXIT_USAGE);
  }
}

export function connectionOptions(flags: ConnectionFlags): ConnectionOptions {
  return {
    ...(flags.token ? { token: flags.token } : {}),
    ...(flags.ca ? { ca: readPem('--ca', flags.ca) } : {}),
    ...(flags.clientCert ? { cert: readPem('--client-cert', flags.clientCert) } : {}),
    ...(flags.clientKey ? { key: readPem('--client-key', flags.clientKey) } : {}),
  };
}
