/** Certificates made by the real `openssl` for TLS tests: CAs, server certificates (valid or expired), client certificates. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export interface Ca {
  cert: string;
  key: string;
}

export function makeCa(dir: string, name: string): Ca {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`, '-days', '2'], dir);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** A certificate signed by `ca`; `days` -1 makes one that expired yesterday. Server ones name 127.0.0.1. */
export function makeCert(dir: string, ca: Ca, name: string, options: { cn?: string; days?: number; server?: boolean } = {}): { cert: string; key: string } {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${options.cn ?? name}`], dir);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, options.server === false ? 'extendedKeyUsage=clientAuth\n' : 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(options.days ?? 2), '-extfile', ext], dir);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

export const pem = (path: string) => readFileSync(path);
