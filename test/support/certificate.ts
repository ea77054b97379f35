import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificate {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** The certificate's PEM file, for NODE_EXTRA_CA_CERTS. */
  readonly certPath: string;
}

/**
 * A throwaway self-signed certificate for 127.0.0.1, valid one day, made in `dir` by the openssl
 * binary; null when there is none (the tests that need it skip, saying so).
 */
export function selfSignedCertificate(dir: string): Certificate | null {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', keyPath, '-out', certPath, '-days', '1'],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  );
  if (made.error || made.status !== 0) return null;
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
}
