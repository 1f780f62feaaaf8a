import { describe, expect, it } from 'vitest';
import { FakeHost, type FakePeer } from '../../test/fake-host';
import { utf8Decode } from '../util/text';
import { httpRequest, type HttpTarget } from './http';

const TARGET: HttpTarget = { host: '127.0.0.12', port: 80, timeoutMs: 5000, credentials: { username: 'a0-vigil', password: 'p@ss' } };
const GET = { method: 'GET' as const, path: '/axis-cgi/param.cgi?action=list&group=Network' };

/** A server that answers every connection with the given raw chunks, then ends (unless `end` is false). */
function script(fake: FakeHost, chunks: string[], end = true): FakePeer[] {
  const peers: FakePeer[] = [];
  fake.serve('127.0.0.12', 80, (peer) => {
    peers.push(peer);
    peer.onData(() => {
      if (peer.received.length > 1) return;
      for (const c of chunks) peer.send(c);
      if (end) peer.end();
    });
  });
  return peers;
}

const received = (peer: FakePeer) => peer.received.map((b) => utf8Decode(b)).join('');

describe('httpRequest', () => {
  it('sends one GET with Host, Basic auth and Connection: close', async () => {
    const fake = new FakeHost();
    const [peer] = [script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'])];
    await httpRequest(fake, TARGET, GET);
    const text = received(peer[0]);
    expect(text.startsWith('GET /axis-cgi/param.cgi?action=list&group=Network HTTP/1.1\r\n')).toBe(true);
    expect(text).toContain('\r\nHost: 127.0.0.12\r\n');
    expect(text).toContain('\r\nConnection: close\r\n');
    expect(text).toContain('\r\nAuthorization: Basic YTAtdmlnaWw6cEBzcw==\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('sends a POST body with its Content-Type and Content-Length', async () => {
    const fake = new FakeHost();
    const peers = script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']);
    await httpRequest(fake, TARGET, { method: 'POST', path: '/axis-cgi/basicdeviceinfo.cgi', body: '{"a":"é"}' });
    const text = received(peers[0]);
    expect(text).toContain('\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a":"é"}');
  });

  it('reads a Content-Length body and ignores bytes after it', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello world']);
    const res = await httpRequest(fake, TARGET, GET);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(utf8Decode(res.body)).toBe('hello');
  });

  it('returns without waiting for EOF once the Content-Length body is complete', async () => {
    const fake = new FakeHost();
    const peers = script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'], false);
    const res = await httpRequest(fake, TARGET, GET);
    expect(utf8Decode(res.body)).toBe('ok');
    expect(peers[0].closed).toBe(true);
    expect(fake.pendingTimers()).toBe(0);
  });

  it('decodes a chunked body', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n']);
    const res = await httpRequest(fake, TARGET, GET);
    expect(utf8Decode(res.body)).toBe('hello world');
  });

  it('decodes a chunked body split at every byte', async () => {
    const fake = new FakeHost();
    const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n';
    script(fake, raw.split(''));
    const res = await httpRequest(fake, TARGET, GET);
    expect(utf8Decode(res.body)).toBe('0123456789abc');
  });

  it('reads a body without length until the end of the stream', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.0 200 OK\r\n\r\nroot.Network.SSH.Enabled=no\n', 'root.Network.FTP.Enabled=no\n']);
    const res = await httpRequest(fake, TARGET, GET);
    expect(utf8Decode(res.body)).toBe('root.Network.SSH.Enabled=no\nroot.Network.FTP.Enabled=no\n');
  });

  it('tolerates odd whitespace, bare LF line ends and folded headers', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1   200   OK  \nX-Folded: a\n  b\nContent-Length :  2 \n\nok']);
    const res = await httpRequest(fake, TARGET, GET);
    expect(res.status).toBe(200);
    expect(res.headers['x-folded']).toBe('a b');
    expect(utf8Decode(res.body)).toBe('ok');
  });

  it('rejects 401 with EAUTH and without the credentials in the message', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="AXIS"\r\nContent-Length: 0\r\n\r\n']);
    const err = await httpRequest(fake, TARGET, GET).catch((e) => e);
    expect(err.code).toBe('EAUTH');
    expect(err.message).toMatch(/^\[vigil\] \[vapix\] GET \/axis-cgi\/param\.cgi.*401/);
    expect(err.message).not.toContain('p@ss');
    expect(err.message).not.toContain('YTAtdmlnaWw6cEBzcw');
  });

  it('returns a 500 answer with its status for the caller to judge', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!']);
    const res = await httpRequest(fake, TARGET, GET);
    expect(res.status).toBe(500);
    expect(res.reason).toBe('Internal Server Error');
  });

  it('rejects a garbage status line with EHTTP', async () => {
    const fake = new FakeHost();
    script(fake, ['SSH-2.0-OpenSSH_9.6\r\n\r\n']);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({
      code: 'EHTTP',
      message: expect.stringMatching(/^\[vigil\] \[vapix\] .*malformed status line "SSH-2\.0-OpenSSH_9\.6"/),
    });
  });

  it('rejects a garbage header line with EHTTP', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n']);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'EHTTP', message: expect.stringMatching(/malformed header line/) });
  });

  it('rejects a bad chunk size with EHTTP', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n']);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'EHTTP', message: expect.stringMatching(/bad chunk size "zz"/) });
  });

  it('rejects a body cut short by the end of the stream', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort']);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'EHTTP', message: expect.stringMatching(/after 5 of 100 body bytes/) });
  });

  it('rejects a connection closed without an answer', async () => {
    const fake = new FakeHost();
    script(fake, []);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'EHTTP', message: expect.stringMatching(/without an answer/) });
  });

  it('rejects an oversize body announced by Content-Length with EFBIG before reading it', async () => {
    const fake = new FakeHost();
    script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n'], false);
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'EFBIG', message: expect.stringMatching(/larger than 1048576/) });
  });

  it('rejects an oversize chunked body with EFBIG once the cap is passed', async () => {
    const fake = new FakeHost();
    const chunk = '1000\r\n' + 'x'.repeat(4096) + '\r\n';
    const peers = script(fake, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array(10).fill(chunk)], false);
    await expect(httpRequest(fake, { ...TARGET, maxResponseBytes: 16384 }, GET)).rejects.toMatchObject({ code: 'EFBIG' });
    expect(peers[0].closed).toBe(true);
  });

  it('times out with ETIMEDOUT and closes the socket when the answer never completes', async () => {
    const fake = new FakeHost();
    const peers = script(fake, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], false);
    const pending = httpRequest(fake, TARGET, GET);
    const outcome = pending.catch((e) => e);
    await fake.advance(4999);
    expect(peers[0].closed).toBe(false);
    await fake.advance(1);
    const err = await outcome;
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toMatch(/within 5000 ms/);
    expect(peers[0].closed).toBe(true);
  });

  it('rejects ECONNREFUSED when nothing listens', async () => {
    const fake = new FakeHost();
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      message: expect.stringMatching(/^\[vigil\] \[vapix\] GET .* cannot connect to 127\.0\.0\.12:80/),
    });
    expect(fake.pendingTimers()).toBe(0);
  });

  it('passes on a connection reset with its code', async () => {
    const fake = new FakeHost();
    fake.serve('127.0.0.12', 80, (peer) => peer.onData(() => peer.fail('ECONNRESET')));
    await expect(httpRequest(fake, TARGET, GET)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
});
