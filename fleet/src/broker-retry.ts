/**
 * What the consumer does when the broker connection fails: which failures end the start (a configuration no
 * retry can fix: TLS, refused credentials) and which are waited out (a broker that is down or restarting), and
 * the capped exponential backoff between attempts, logged once per attempt with the next delay.
 */
import type { MqttClient } from 'mqtt';
import type { FleetLog } from './log';
import { redactUrl } from './store/redact-url';

export const RETRY_FIRST_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/** Node's certificate verification codes (tls.TLSSocket authorizationError) and its TLS error code families. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** MQTT CONNACK codes that say the credentials or the client id are refused (3.1.1: 2, 4, 5; MQTT 5: 0x85-0x87, 0x8C). */
const REFUSED_CONNACK = new Set([2, 4, 5, 0x85, 0x86, 0x87, 0x8c]);

export type StartFailure = { fatal: true; reason: string } | { fatal: false; reason: string };

/** Whether a connection error at start is a misconfiguration (fatal) or a broker that is not there yet (retried). */
export function classifyStartError(err: Error & { code?: unknown }): StartFailure {
  const code = err.code;
  if (typeof code === 'string' && (CERT_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_'))) {
    return { fatal: true, reason: `TLS: ${tlsHint(code, err.message)}` };
  }
  if (typeof code === 'number' && REFUSED_CONNACK.has(code)) {
    return { fatal: true, reason: `the broker refused the connection: ${err.message.replace(/^Connection refused: /, '')} (CONNACK ${code}); check the user name and password` };
  }
  return { fatal: false, reason: err.message };
}

function tlsHint(code: string, message: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return `the broker's certificate is not valid for this host name (${message}); use the name the certificate carries in --broker`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the broker's certificate has expired or is not yet valid (${code})`;
  if (CERT_CODES.has(code)) return `the broker's certificate is not signed by a trusted CA (${code}); give its CA with --ca`;
  return `${message} (${code})`;
}

/**
 * Logs each failed attempt once ("…; retrying in N s") and doubles MQTT.js's reconnect period after it, up to
 * RETRY_MAX_MS; a successful connect starts again at RETRY_FIRST_MS. MQTT.js arms its reconnect timer from
 * options.reconnectPeriod on every close (its own close listener runs before this one), so the period set here is
 * the wait before the next attempt. `quiet()` is true while a start error is being reported (no retry line then).
 */
export function watchRetries(client: MqttClient, brokerUrl: string, log: FleetLog, quiet: () => boolean): void {
  const where = redactUrl(brokerUrl);
  let lastError: Error | null = null;
  let wasConnected = false;
  let attempt = 0;
  client.options.reconnectPeriod = RETRY_FIRST_MS;
  client.on('error', (err) => {
    // A connection's failure is said once, by the close line below; an error on a live connection is said here.
    if (client.connected) log('warn', `broker ${where}: ${err.message}`);
    else lastError = err;
  });
  client.on('connect', () => {
    if (attempt > 0) log('info', `connected to ${where}`);
    wasConnected = true;
    attempt = 0;
    lastError = null;
    client.options.reconnectPeriod = RETRY_FIRST_MS;
  });
  client.on('close', () => {
    if (client.disconnecting || quiet()) return;
    const delay = client.options.reconnectPeriod ?? RETRY_FIRST_MS;
    const why = lastError ? lastError.message : 'the connection closed';
    lastError = null;
    attempt++;
    const seconds = delay / 1000;
    log('warn', wasConnected && attempt === 1
      ? `lost the connection to ${where} (${why}); reconnecting in ${seconds} s`
      : `cannot reach ${where} (${why}); attempt ${attempt}, retrying in ${seconds} s`);
    wasConnected = false;
    client.options.reconnectPeriod = Math.min(delay * 2, RETRY_MAX_MS);
  });
}
