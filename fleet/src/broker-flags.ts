/**
 * The broker's credentials and TLS files from `vigil fleet` / `vigil status` flags and the environment. Read and
 * checked before anything connects, so a missing or unusable file is one clear line at start, never a retry loop.
 * The password never has to be in the URL (a URL ends up in logs and `ps`); a URL's userinfo is still accepted,
 * and taken out of the URL so that what is logged carries no credentials.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { fleetError } from './log';

export interface BrokerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface BrokerConnection {
  /** The URL without userinfo. */
  url: string;
  username?: string;
  password?: string;
  tls?: BrokerTls;
}

export const BROKER_FLAGS = ['username', 'password-file', 'ca', 'cert', 'key'] as const;

export const BROKER_USAGE = `  --username NAME         broker user (else VIGIL_BROKER_USERNAME, else the URL's user)
  --password-file FILE    the broker password (else VIGIL_BROKER_PASSWORD, else the URL's; never needed on
                          the command line)
  --ca FILE               PEM CA certificate(s) that sign an mqtts:// broker's certificate (default: the
                          system's CAs); the broker is always verified
  --cert FILE, --key FILE PEM client certificate and key, for a broker that requires mutual TLS`;

type Flags = Partial<Record<(typeof BROKER_FLAGS)[number], string | true>>;

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw fleetError(`cannot read --${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The connection settings, or throws an Error whose message is the one line to print. */
export function brokerConnection(brokerUrl: string, flags: Flags, env: NodeJS.ProcessEnv = process.env): BrokerConnection {
  const text = (name: keyof Flags) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  let url = brokerUrl;
  let urlUser: string | undefined;
  let urlPassword: string | undefined;
  const u = new URL(brokerUrl);
  if (u.username || u.password) {
    urlUser = u.username ? decodeURIComponent(u.username) : undefined;
    urlPassword = u.password ? decodeURIComponent(u.password) : undefined;
    u.username = '';
    u.password = '';
    url = u.toString();
  }
  let password = env.VIGIL_BROKER_PASSWORD || urlPassword;
  const passwordFile = text('password-file');
  if (passwordFile !== undefined) {
    password = readFlagFile('password-file', passwordFile).toString('utf8').replace(/\r?\n$/, '');
    if (!password) throw fleetError(`--password-file ${passwordFile} is empty`);
  }
  const username = text('username') ?? (env.VIGIL_BROKER_USERNAME || urlUser);
  const caFile = text('ca');
  const certFile = text('cert');
  const keyFile = text('key');
  if (!caFile && !certFile && !keyFile) return { url, username, password };
  if (!['mqtts:', 'ssl:', 'tls:', 'wss:'].includes(u.protocol)) throw fleetError(`--ca, --cert and --key need a TLS broker URL (mqtts://…), got ${u.protocol}//`);
  if (Boolean(certFile) !== Boolean(keyFile)) throw fleetError('--cert and --key go together (the client certificate and its key)');
  const tls: BrokerTls = {};
  if (caFile) {
    tls.ca = readFlagFile('ca', caFile);
    try {
      new X509Certificate(tls.ca);
    } catch {
      throw fleetError(`--ca ${caFile} is not a PEM certificate`);
    }
  }
  if (certFile && keyFile) {
    tls.cert = readFlagFile('cert', certFile);
    tls.key = readFlagFile('key', keyFile);
    try {
      createSecureContext({ cert: tls.cert, key: tls.key });
    } catch (err) {
      throw fleetError(`--cert ${certFile} and --key ${keyFile} are not a usable PEM certificate and key: ${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')}`);
    }
  }
  return { url, username, password, tls };
}
