// Certificates dated past 2038, made with openssl at test time (none are committed): a CA valid from now
// into the 2040s, a broker certificate valid 2039-01-01..2040-12-31 and one that expired on 2038-06-01, both
// for 127.0.0.1 and localhost. `openssl ca` takes explicit -startdate/-enddate (OpenSSL 3.0's `x509 -req`
// has only -days), as test/helpers/certs.ts does for its expired certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki2039 {
  dir: string;
  caCert: string;
  /** notBefore 2039-01-01, notAfter 2040-12-31. */
  valid: { cert: string; key: string };
  /** notBefore 2037-01-01, notAfter 2038-06-01. */
  expired: { cert: string; key: string };
  cleanup(): void;
}

export function makePki2039(): Pki2039 {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-2039-'));
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // 20 years: valid at the test's 2039 clock and today.
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '7300', '-subj', '/CN=vigil-test-ca-2039']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '2039\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca=tca', '[tca]', 'dir=.', 'database=index.txt', 'new_certs_dir=.', 'serial=serial', 'default_md=sha256', 'policy=any',
      'copy_extensions=none', 'x509_extensions=ext', 'unique_subject=no', '[any]', 'commonName=supplied', '[ext]', 'subjectAltName=DNS:localhost,IP:127.0.0.1', ''].join('\n'),
  );
  const leaf = (name: string, start: string, end: string) => {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost']);
    ssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`, '-startdate', start, '-enddate', end]);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    valid: leaf('valid-2039', '20390101000000Z', '20401231000000Z'),
    expired: leaf('expired-2038', '20370101000000Z', '20380601000000Z'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
