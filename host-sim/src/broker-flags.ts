/**
 * `vigil sim`'s broker: the URL (mqtt:// or mqtts://, userinfo accepted), the TLS files (--ca, --cert, --key)
 * and the credentials (--username, --password-file, VIGIL_BROKER_USERNAME / VIGIL_BROKER_PASSWORD), turned into
 * what each simulated camera is configured with, as a camera's app settings would be: Broker* values and the PEM
 * files put in its data dir. Files are read and checked here, so a missing or unusable one is one line at start.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { DEFAULT_DATA_DIR } from './host/config';

export const SIM_BROKER_FLAGS = {
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
} as const;

export const SIM_BROKER_USAGE = `  --broker URL   mqtt://host:port, or mqtts://host:port (default port 8883) for TLS; the broker is
                 verified against --ca (the name in the URL is the one its certificate must carry)
  --ca FILE      PEM CA certificate of an mqtts:// broker
  --cert FILE, --key FILE
                 PEM client certificate and key, for a broker that requires mutual TLS
  --username NAME
                 broker user (else VIGIL_BROKER_USERNAME, else the URL's user)
  --password-file FILE
                 broker password (else VIGIL_BROKER_PASSWORD, else the URL's); never logged`;

export interface SimBroker {
  host: string;
  port: number;
  /** The URL without userinfo, for what is printed. */
  url: string;
  /** Broker* configuration values for every camera (credentials and TLS). */
  overrides: Record<string, string>;
  /** Files for every camera's data dir (SimCameraOptions.dataFiles). */
  dataFiles: Record<string, string>;
}

type Values = Partial<Record<keyof typeof SIM_BROKER_FLAGS, string>>;

const fail = (message: string) => new Error(`[vigil] [sim] ${message}`);

function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`cannot read --${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function simBroker(url: string, values: Values, env: NodeJS.ProcessEnv = process.env): SimBroker {
  const m = /^(mqtts?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^:/@]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new Error(`[vigil] [cli] --broker must look like mqtt://host:port or mqtts://host:port, got "${url.replace(/\/\/[^@/]*@/, '//***@')}"`);
  const tls = m[1] === 'mqtts';
  const host = m[4].replace(/^\[|\]$/g, '');
  const port = m[5] ? Number(m[5]) : tls ? 8883 : 1883;
  if (port < 1 || port > 65535) throw new Error(`[vigil] [cli] --broker: port ${port} is out of range`);
  const overrides: Record<string, string> = {};
  const dataFiles: Record<string, string> = {};
  let password = env.VIGIL_BROKER_PASSWORD || (m[3] ? decodeURIComponent(m[3]) : undefined);
  if (values['password-file'] !== undefined) {
    password = readFlagFile('password-file', values['password-file']).replace(/\r?\n$/, '');
    if (!password) throw fail(`--password-file ${values['password-file']} is empty`);
  }
  const username = values.username ?? (env.VIGIL_BROKER_USERNAME || (m[2] ? decodeURIComponent(m[2]) : undefined));
  if (username) overrides.BrokerUsername = username;
  if (password) overrides.BrokerPassword = password;
  if (!tls && (values.ca || values.cert || values.key)) throw fail('--ca, --cert and --key need an mqtts:// broker URL');
  if (Boolean(values.cert) !== Boolean(values.key)) throw fail('--cert and --key go together (the client certificate and its key)');
  if (tls) {
    overrides.BrokerTls = 'yes';
    if (values.ca) {
      const ca = readFlagFile('ca', values.ca);
      try {
        new X509Certificate(ca);
      } catch {
        throw fail(`--ca ${values.ca} is not a PEM certificate`);
      }
      dataFiles['broker-ca.pem'] = ca;
      overrides.BrokerCaFile = `${DEFAULT_DATA_DIR}/broker-ca.pem`;
    }
    if (values.cert && values.key) {
      const cert = readFlagFile('cert', values.cert);
      const key = readFlagFile('key', values.key);
      try {
        createSecureContext({ cert, key });
      } catch (err) {
        throw fail(`--cert ${values.cert} and --key ${values.key} are not a usable PEM certificate and key: ${(err as Error).message.replace(/^error:[0-9A-F]+:/, '')}`);
      }
      dataFiles['broker-client.pem'] = cert;
      dataFiles['broker-client.key'] = key;
      overrides.BrokerCertFile = `${DEFAULT_DATA_DIR}/broker-client.pem`;
      overrides.BrokerKeyFile = `${DEFAULT_DATA_DIR}/broker-client.key`;
    }
  }
  return { host, port, url: `${m[1]}://${m[4]}:${port}`, overrides, dataFiles };
}
