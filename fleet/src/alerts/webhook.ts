/**
 * The webhook sink: POSTs an alert's JSON to a URL (node:http/https), signed with HMAC-SHA256 so the receiver
 * can tell it came from this fleet: `X-Vigil-Signature: sha256=<hex>` over `<timestamp>.<body>`, with the
 * timestamp (unix seconds) in `X-Vigil-Timestamp`, so an old request replayed later fails verification.
 * verifyWebhook is the receiver's side (tests use it; a receiver in Node can too).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AlertSink } from './dispatcher';

export const SIGNATURE_HEADER = 'x-vigil-signature';
export const TIMESTAMP_HEADER = 'x-vigil-timestamp';

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * The receiver's check: the signature matches this secret, and the timestamp is within toleranceSec of now.
 * body must be the raw request body, byte for byte.
 */
export function verifyWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string, nowMs = Date.now(), toleranceSec = 300): boolean {
  const sig = headers[SIGNATURE_HEADER];
  const ts = headers[TIMESTAMP_HEADER];
  if (typeof sig !== 'string' || typeof ts !== 'string' || !/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(nowMs / 1000 - Number(ts)) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(sig);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * A webhook URL for logs, /metrics and the API: its origin and a short hash of the whole URL, never its path,
 * query or credentials (a Slack-style webhook's path is its secret).
 */
export function redactUrl(url: string): string {
  const tag = createHash('sha256').update(url).digest('hex').slice(0, 8);
  try {
    return `${new URL(url).origin}/… #${tag}`;
  } catch {
    return `(not a URL) #${tag}`;
  }
}

export interface WebhookOptions {
  url: string;
  /** null: sent unsigned (the fleet warns at start). */
  secret: string | null;
  timeoutMs: number;
  /** Clock for the timestamp header. */
  now?: () => number;
}

export function webhookSink(o: WebhookOptions): AlertSink {
  const u = new URL(o.url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`[vigil] [fleet] webhook ${redactUrl(o.url)}: only http:// and https:// URLs`);
  const now = o.now ?? Date.now;
  return {
    id: `webhook:${o.url}`,
    kind: 'webhook',
    deliver(body: string, alertId: string, attempt: number): Promise<void> {
      const ts = String(Math.floor(now() / 1000));
      const headers: Record<string, string | number> = {
        'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'user-agent': 'vigil-fleet',
        'x-vigil-alert-id': alertId, 'x-vigil-delivery-attempt': attempt, [TIMESTAMP_HEADER]: ts,
      };
      if (o.secret !== null) headers[SIGNATURE_HEADER] = signWebhook(o.secret, ts, body);
      const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise<void>((resolve, reject) => {
        const req = request(u, { method: 'POST', headers, timeout: o.timeoutMs }, (res) => {
          // Drain (bounded) so the socket is freed; the answer's body says nothing we need.
          let seen = 0;
          res.on('data', (d: Buffer) => {
            seen += d.length;
            if (seen > 64 * 1024) res.destroy();
          });
          res.on('error', () => undefined);
          res.on('close', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`HTTP ${status}`));
          });
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
        req.on('error', (err) => reject(err));
        req.end(body);
      });
    },
  };
}
