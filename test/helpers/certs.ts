/**
 * Test certificates made with openssl at test time (none are committed): a CA, a server certificate for
 * localhost/127.0.0.1, an expired one, one from another CA, and a client certificate per given CN.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  expiredCert: string;
  expiredKey: string;
  otherCaCert: string;
  client(cn: string): { cert: string; key: string };
  read(file: string): string;
}

const ssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function makeCa(dir: string, name: string): void {
  ssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const leaf = (name: string, cn: string, ext: boolean) => {
    ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...(ext ? ['-extfile', 'san.ext'] : [])]);
  };
  leaf('server', 'localhost', true);
  // An expired certificate: `openssl ca` can set the validity dates in the past.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca=tca', '[tca]', 'dir=.', 'database=index.txt', 'new_certs_dir=.', 'serial=serial', 'default_md=sha256', 'policy=any', 'copy_extensions=none', 'x509_extensions=ext',
      '[any]', 'commonName=supplied', '[ext]', 'subjectAltName=DNS:localhost,IP:127.0.0.1', ''].join('\n'),
  );
  ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=localhost']);
  ssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20210101000000Z']);
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    expiredCert: join(dir, 'expired.pem'),
    expiredKey: join(dir, 'expired.key'),
    otherCaCert: join(dir, 'other-ca.pem'),
    client(cn: string) {
      const name = `client-${cn}`;
      leaf(name, cn, false);
      return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    },
    read: (file) => readFileSync(file, 'utf8'),
  };
}
