/**
 * Test support for the VAPIX client and the collectors: an in-memory VAPIX responder on a FakeHost, and a
 * loader for the collectors' `testdata/<case>/` folders (VAPIX answer files + a `rootfs/` tree).
 *
 * Node-free on purpose (agent/tsconfig checks this folder with the ES2022 lib only): tests pass in node:fs.
 */
import { parseConfig } from '../src/config';
import type { VapixCredentials } from '../src/host';
import { concatBytes } from '../src/util/bytes';
import { utf8Decode, utf8Encode } from '../src/util/text';
import { createVapixClient } from '../src/vapix/vapix';
import type { FakeHost, FakePeer } from './fake-host';

/** The subset of node:fs that loadTestdata uses. */
export interface FsLike {
  readdirSync(path: string): string[];
  readFileSync(path: string): Uint8Array;
  statSync(path: string): { isDirectory(): boolean };
}

/** VAPIX endpoint → answer file in a testdata case folder. */
export const VAPIX_FILES: Record<string, string> = {
  '/axis-cgi/basicdeviceinfo.cgi': 'basicdeviceinfo.json',
  '/axis-cgi/firmwaremanagement.cgi': 'firmware-status.json',
  '/axis-cgi/param.cgi': 'params.txt',
  '/axis-cgi/applications/list.cgi': 'applications.xml',
  '/axis-cgi/applications/config.cgi': 'allow-unsigned.xml',
};

export type VapixAnswer = string | { status: number; body?: string; chunked?: boolean };

export interface VapixRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

export const VAPIX_HOST = '127.0.0.12';

/**
 * Loads a case folder: `rootfs/**` into the fake at the same device paths, and returns the VAPIX answers
 * (endpoint → file text) for serveVapix. A missing answer file means the endpoint answers 404.
 */
export function loadTestdata(fake: FakeHost, fs: FsLike, dir: string): Record<string, VapixAnswer> {
  const answers: Record<string, VapixAnswer> = {};
  const names = fs.readdirSync(dir);
  for (const [endpoint, file] of Object.entries(VAPIX_FILES)) {
    if (names.indexOf(file) >= 0) answers[endpoint] = utf8Decode(fs.readFileSync(`${dir}/${file}`));
  }
  const walk = (real: string, device: string) => {
    for (const name of fs.readdirSync(real).sort()) {
      if (name === '.gitkeep') continue;
      const r = `${real}/${name}`;
      if (fs.statSync(r).isDirectory()) {
        fake.addDir(`${device}/${name}`);
        walk(r, `${device}/${name}`);
      } else fake.addFile(`${device}/${name}`, fs.readFileSync(r));
    }
  };
  if (names.indexOf('rootfs') >= 0) walk(`${dir}/rootfs`, '');
  return answers;
}

/**
 * Serves VAPIX answers on fake:127.0.0.12:80. param.cgi answers only the requested groups, from the lines
 * of params.txt, with the device's `# Error` line for a group it lacks. With `credentials`, a request with
 * other (or no) Basic credentials gets 401. Returns the requests seen.
 */
export function serveVapix(
  fake: FakeHost,
  answers: Record<string, VapixAnswer>,
  options: { credentials?: VapixCredentials; port?: number } = {},
): VapixRequest[] {
  const seen: VapixRequest[] = [];
  fake.serve(VAPIX_HOST, options.port ?? 80, (peer) => {
    const parts: Uint8Array[] = [];
    let handled = false;
    peer.onData((bytes) => {
      parts.push(bytes);
      const req = parseRequest(utf8Decode(concatBytes(parts)));
      if (!req || handled) return;
      handled = true;
      seen.push(req);
      respond(peer, answerFor(req, answers, options.credentials));
    });
  });
  return seen;
}

function parseRequest(text: string): VapixRequest | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const [method, target] = lines[0].split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = text.slice(end + 4);
  if (utf8Encode(body).length < Number(headers['content-length'] ?? 0)) return null;
  const q = target.indexOf('?');
  return { method, path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1), headers, body };
}

function answerFor(req: VapixRequest, answers: Record<string, VapixAnswer>, creds?: VapixCredentials): VapixAnswer {
  if (creds) {
    const want = 'Basic ' + btoaUtf8(`${creds.username}:${creds.password}`);
    if (req.headers.authorization !== want) return { status: 401, body: 'Unauthorized' };
  }
  const answer = answers[req.path];
  if (answer === undefined) return { status: 404, body: 'Not Found' };
  if (req.path !== '/axis-cgi/param.cgi' || typeof answer !== 'string') return answer;
  const groups = decodeURIComponent(/(?:^|&)group=([^&]*)/.exec(req.query)?.[1] ?? '').split(',');
  const lines = answer.split('\n').filter((l) => l.trim() && l[0] !== '#');
  if (!lines.every((l) => /^[\w.-]+=/.test(l))) return answer; // a malformed fixture is served as it is
  const out: string[] = [];
  for (const group of groups) {
    const g = group.replace(/^root\./, '');
    const mine = lines.filter((l) => {
      const name = l.slice(0, l.indexOf('=')).replace(/^root\./, '');
      return name === g || name.startsWith(g + '.');
    });
    if (mine.length) out.push(...mine);
    else out.push(`# Error: Error -1 getting param in group '${g}'`);
  }
  return out.join('\n') + '\n';
}

function respond(peer: FakePeer, answer: VapixAnswer): void {
  const a = typeof answer === 'string' ? { status: 200, body: answer } : answer;
  const body = utf8Encode(a.body ?? '');
  const reason = a.status === 200 ? 'OK' : a.status === 401 ? 'Unauthorized' : a.status === 404 ? 'Not Found' : 'Error';
  if (a.chunked) {
    peer.send(`HTTP/1.1 ${a.status} ${reason}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    const half = body.length >> 1;
    for (const part of [body.subarray(0, half), body.subarray(half)]) {
      if (part.length) peer.send(concatBytes([utf8Encode(part.length.toString(16) + '\r\n'), part, utf8Encode('\r\n')]));
    }
    peer.send('0\r\n\r\n');
  } else {
    peer.send(concatBytes([utf8Encode(`HTTP/1.1 ${a.status} ${reason}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
  }
  peer.end();
}

function btoaUtf8(text: string): string {
  // the agent's own codec is what is under test elsewhere; an independent one here keeps the check honest
  const bytes = utf8Encode(text);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (chunk[0] << 16) | ((chunk[1] ?? 0) << 8) | (chunk[2] ?? 0);
    out += abc[n >> 18] + abc[(n >> 12) & 63] + (i + 1 < bytes.length ? abc[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? abc[n & 63] : '=');
  }
  return out;
}

export const TEST_CREDENTIALS: VapixCredentials = { username: 'a0-vigil', password: 's3cret:pw' };

/**
 * A collector context on `fake` with the VAPIX client pointed at serveVapix. Config parameters may be
 * overridden (IntegrityPaths, DataDir…).
 */
export function makeContext(fake: FakeHost, params: Record<string, string> = {}) {
  const config = parseConfig({ BrokerHost: 'broker.example', DataDir: fake.dataDir, ...params });
  const vapix = createVapixClient(fake, { ...config.vapixConf, credentials: TEST_CREDENTIALS });
  return { host: fake, agentConf: config, vapixApi: vapix };
}
