/**
 * A minimal HTTP/1.1 client over host.net, enough for local VAPIX: one request per connection
 * (`Connection: close`), Basic auth, Content-Length / chunked / until-EOF bodies, a response size cap and a
 * deadline on the whole exchange. Error messages name the request line, never the credentials.
 */
import type { Host, TextEncoding, VapixCredentials } from '../host';
import { base64Encode, concatBytes, toArrayBuffer } from '../util/bytes';
import { decodeText, utf8Decode, utf8Encode } from '../util/text';
import { errorCode, errorMessage, quote, VigilError } from '../util/errors';

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** Path and query, already encoded. */
  path: string;
  body?: string;
  contentType?: string;
}

export interface HttpResponse {
  status: number;
  reason: string;
  /** Lower-case names; a repeated header is joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface HttpTarget {
  host: string;
  port: number;
  /** Deadline for connect + request + the whole response. */
  timeoutMs: number;
  credentials?: VapixCredentials | null;
  /** Cap on the raw response (head + body); default MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number;
}

export const MAX_RESPONSE_BYTES = 1 << 20;
const MAX_HEAD_BYTES = 16384;
/** How the body is delimited (responseParser's mode). */
const CHUNKED = 1,
  NO_BODY = 2,
  BY_LENGTH = 3,
  TO_EOF = 4;

const fail = (code: string, message: string) => new VigilError('vapix', code, message);

/** Sends one request; rejects ETIMEDOUT, EAUTH (401), EHTTP (malformed), EFBIG (too large) or the host's code. */
export const httpRequest = (host: Pick<Host, 'net' | 'clock'>, target: HttpTarget, req: HttpRequest): Promise<HttpResponse> => {
  const what = `${req.method} ${req.path}`;
  return new Promise<HttpResponse>((resolve, reject) => {
    let socket = -1;
    let done = false;
    const finish = (err: unknown, res?: HttpResponse) => {
      if (done) return;
      done = true;
      host.clock.clearTimer(timer);
      if (socket >= 0) host.net.close(socket);
      if (res) resolve(res);
      else reject(err instanceof VigilError ? err : fail(errorCode(err), `${what}: ${errorMessage(err)}`));
    };
    const timer = host.clock.setTimer(target.timeoutMs, () =>
      finish(fail('ETIMEDOUT', `${what}: no complete answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`)),
    );
    const exchange = async (): Promise<HttpResponse> => {
      if (/[\s]/.test(req.path) || req.path[0] !== '/') throw fail('EINVAL', `bad request path ${JSON.stringify(req.path)}`);
      let s: number;
      try {
        s = await host.net.connect({ host: target.host, port: target.port, timeoutMs: target.timeoutMs });
      } catch (err) {
        throw fail(errorCode(err), `${what}: cannot connect to ${target.host}:${target.port}: ${errorMessage(err)}`);
      }
      if (done) {
        host.net.close(s);
        throw fail('ETIMEDOUT', what);
      }
      socket = s;
      await host.net.write(s, toArrayBuffer(encodeRequest(target, req)));
      const push = responseParser(what, target.maxResponseBytes ?? MAX_RESPONSE_BYTES);
      for (;;) {
        const chunk = await host.net.read(s);
        if (done) throw fail('ETIMEDOUT', what);
        const res = push(chunk ? new Uint8Array(chunk) : null);
        if (!res) continue;
        if (res.status === 401) throw fail('EAUTH', `${what}: 401 ${res.reason || 'Unauthorized'}; check the VAPIX credentials`);
        return res;
      }
    };
    exchange().then(
      (res) => finish(null, res),
      (err) => finish(err),
    );
  });
};

/**
 * The body as text in the charset its Content-Type declares (case-insensitive, quoted or not): ISO-8859-1, as
 * param.cgi answers on real cameras (`text/plain; charset=iso-8859-1`), or else UTF-8, also when none is given.
 */
export const bodyText = (res: HttpResponse): string => decodeText(res.body, charsetOf(res.headers['content-type']));

/** The encoding a Content-Type's charset names: ISO-8859-1 for its aliases (and US-ASCII, a subset), else UTF-8. */
export const charsetOf = (contentType: string | undefined): TextEncoding => {
  const m = /;\s*charset\s*=\s*"?\s*([\w.:-]+)/i.exec(contentType ?? '');
  return m && /^(iso[-_]?8859-1(:1987)?|latin-?1|l1|iso-ir-100|cp819|ibm819|us-ascii)$/i.test(m[1]) ? 'iso-8859-1' : 'utf-8';
};

const encodeRequest = (target: HttpTarget, req: HttpRequest): Uint8Array => {
  const body = req.body !== undefined || req.method === 'POST' ? utf8Encode(req.body ?? '') : null;
  let head =
    `${req.method} ${req.path} HTTP/1.1\r\nHost: ${target.host}${target.port === 80 ? '' : ':' + target.port}\r\n` +
    'Connection: close\r\nAccept: */*\r\nUser-Agent: vigil\r\n';
  const c = target.credentials;
  if (c) head += `Authorization: Basic ${base64Encode(utf8Encode(c.username + ':' + c.password))}\r\n`;
  if (body) head += `Content-Type: ${req.contentType ?? 'application/json'}\r\nContent-Length: ${body.length}\r\n`;
  return concatBytes([utf8Encode(head + '\r\n'), body ?? new Uint8Array(0)]);
};

/**
 * An incremental response parser: feed it every chunk read (null at end of stream); it returns the
 * response once complete, null while it needs more, and throws on garbage, truncation or oversize.
 */
export const responseParser = (what: string, max: number): (data: Uint8Array | null) => HttpResponse | null => {
  let buf = new Uint8Array(4096);
  let n = 0;
  let scanned = 0;
  let head: { status: number; reason: string; headers: Record<string, string> } | null = null;
  let mode = 0;
  let length = 0;
  let pos = 0; // start of the body, then of the next chunk-size line
  const chunks: Uint8Array[] = [];
  const bad = (message: string) => fail('EHTTP', `${what}: ${message}`);
  /** The answer ended early: `connection closed <where>`. */
  const cut = (where: string) => bad(`connection closed ${where}`);
  const done = (body: Uint8Array): HttpResponse => ({ ...(head as NonNullable<typeof head>), body });

  return (data) => {
    if (data) {
      if (n + data.length > max) throw fail('EFBIG', `${what}: answer larger than ${max} bytes`);
      if (n + data.length > buf.length) {
        const bigger = new Uint8Array(Math.max(buf.length * 2, n + data.length));
        bigger.set(buf.subarray(0, n));
        buf = bigger;
      }
      buf.set(data, n);
      n += data.length;
    }
    if (!head) {
      let end = -1;
      let i = Math.max(0, scanned - 2);
      for (; i < n - 1 && end < 0; i++) {
        if (buf[i] === 10 && (buf[i + 1] === 10 || (buf[i + 1] === 13 && buf[i + 2] === 10))) end = i;
      }
      scanned = i;
      if (end < 0) {
        if (n > MAX_HEAD_BYTES) throw bad(`response head longer than ${MAX_HEAD_BYTES} bytes`);
        if (!data) throw cut(n ? 'inside the response head' : 'without an answer');
        return null;
      }
      head = parseHead(utf8Decode(buf.subarray(0, end)), bad);
      pos = end + (buf[end + 1] === 10 ? 2 : 3);
      const h = head.headers;
      const te = h['transfer-encoding'];
      const cl = h['content-length'];
      if ((head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) mode = NO_BODY;
      else if (te && /chunked/i.test(te)) mode = CHUNKED;
      else if (cl !== undefined) {
        if (!/^\d+$/.test(cl)) throw bad(`bad Content-Length ${JSON.stringify(cl)}`);
        length = Number(cl);
        if (length > max) throw fail('EFBIG', `${what}: answer of ${length} bytes is larger than ${max}`);
        mode = BY_LENGTH;
      } else mode = TO_EOF;
    }
    if (mode === NO_BODY) return done(new Uint8Array(0));
    if (mode === BY_LENGTH) {
      if (n - pos >= length) return done(buf.slice(pos, pos + length));
      if (!data) throw cut(`after ${n - pos} of ${length} body bytes`);
      return null;
    }
    if (mode === TO_EOF) return data ? null : done(buf.slice(pos, n));
    // chunked: size line (hex, optional ;extensions), data, CRLF; a zero size ends the body (trailers ignored)
    for (;;) {
      let nl = pos;
      while (nl < n && buf[nl] !== 10) nl++;
      if (nl >= n) {
        if (n - pos > 1024) throw bad('chunk-size line too long');
        if (!data) throw cut('inside a chunked body');
        return null;
      }
      const line = utf8Decode(buf.subarray(pos, nl)).trim().replace(/\s*;.*$/, '');
      if (!/^[0-9a-fA-F]{1,8}$/.test(line)) throw bad(`bad chunk size ${quote(line, 20)}`);
      const size = parseInt(line, 16);
      if (size === 0) return done(concatBytes(chunks));
      const end = nl + 1 + size;
      const crlf = buf[end] === 13 ? 2 : 1;
      if (n < end + crlf) {
        if (!data) throw cut('inside a chunk');
        return null;
      }
      if (buf[end + crlf - 1] !== 10) throw bad('chunk data not followed by CRLF');
      chunks.push(buf.slice(nl + 1, end));
      pos = end + crlf;
    }
  };
};

const parseHead = (text: string, bad: (m: string) => Error) => {
  const lines = text.replace(/\r$/, '').split(/\r?\n/);
  // `(.*)` then trim(): a lazy `(.*?)\s*$` took quadratic time on long blank runs (ROBUSTNESS.md, "http-head-blank-run-quadratic")
  const status = /^\s*HTTP\/1\.[01][ \t]+(\d{3})(?:[ \t]+(.*))?$/.exec(lines[0]);
  if (!status) throw bad(`malformed status line ${quote(lines[0], 60)}`);
  const headers: Record<string, string> = Object.create(null);
  let last = '';
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && last) {
      headers[last] += ' ' + line.trim(); // obsolete line folding
      continue;
    }
    const m = /^([!#$%&'*+.^_`|~\w-]+)[ \t]*:(.*)$/.exec(line);
    if (!m) throw bad(`malformed header line ${quote(line, 60)}`);
    last = m[1].toLowerCase();
    const value = m[2].replace(/^[ \t]+/, '').trimEnd();
    headers[last] = headers[last] !== undefined ? headers[last] + ', ' + value : value;
  }
  return { status: Number(status[1]), reason: (status[2] ?? '').trim(), headers };
};
