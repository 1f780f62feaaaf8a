// startSimCamera wires a VAPIX server, a SimHost and a QuickJS runtime for one profile: a small bundle
// reads the rootfs, gets D-Bus-style credentials and talks HTTP to the camera's VAPIX through host.net.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startSimCamera, type SimCamera } from '../src/camera';
import { memoryLogSink } from '../src/host/log';
import { sleep, tempDir } from './helpers';

const PROBE = `
var h = __vigilHost;
function text(b) { return String.fromCharCode.apply(null, new Uint8Array(b)); }
function bytes(s) { var u = new Uint8Array(s.length); for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return u.buffer; }
function b64(s) { var t = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', o = '';
  for (var i = 0; i < s.length; i += 3) { var n = (s.charCodeAt(i) << 16) | ((s.charCodeAt(i + 1) || 0) << 8) | (s.charCodeAt(i + 2) || 0);
    o += t[(n >> 18) & 63] + t[(n >> 12) & 63] + (i + 1 < s.length ? t[(n >> 6) & 63] : '=') + (i + 2 < s.length ? t[n & 63] : '='); } return o; }
(async function () {
  var c = h.config();
  var uptime = text(await h.fs.readFile('/proc/uptime', 100));
  var cred = await h.vapixCredentials();
  var s = await h.net.connect({ host: c.VapixHost, port: Number(c.VapixPort), timeoutMs: 2000 });
  await h.net.write(s, bytes('GET /axis-cgi/param.cgi?action=list&group=Brand.ProdNbr HTTP/1.1\\r\\nHost: 127.0.0.12\\r\\nAuthorization: Basic ' + b64(cred.username + ':' + cred.password) + '\\r\\nConnection: close\\r\\n\\r\\n'));
  var reply = '', chunk;
  while ((chunk = await h.net.read(s)) !== null) reply += text(chunk);
  h.net.close(s);
  globalThis.probe = { uptime: uptime, broker: c.BrokerHost + ':' + c.BrokerPort, status: reply.split('\\r\\n')[0], body: reply.split('\\r\\n\\r\\n')[1], sha: h.info.bundleSha256 };
})().catch(function (e) { globalThis.probe = { error: e.code + ' ' + e.message }; });
globalThis.__vigilAgent = { stop: function () { h.log('info', 'probe stopped'); return Promise.resolve(); } };
`;

let camera: SimCamera | null = null;
afterEach(async () => {
  await camera?.stop();
  camera = null;
});

describe('startSimCamera', () => {
  it('runs a bundle against the profile rootfs, credentials and VAPIX, and stops cleanly', async () => {
    const tmp = tempDir('camera');
    const bundlePath = path.join(tmp.dir, 'probe.js');
    writeFileSync(bundlePath, PROBE);
    const logs = memoryLogSink();
    camera = await startSimCamera({ profile: 'active-12', bundlePath, broker: { host: '127.0.0.1', port: 18830 }, stateDir: path.join(tmp.dir, 'state'), log: logs });
    expect(camera.serial).toBe('ACCC8E9A3B21');
    expect(camera.started).toEqual({ ok: true });
    const until = Date.now() + 5000;
    while (!camera.runner.getGlobalJson('probe') && Date.now() < until) await sleep(10);
    expect(camera.runner.getGlobalJson('probe')).toEqual({
      uptime: '354891.27 1389210.44\n',
      broker: '127.0.0.1:18830',
      status: 'HTTP/1.1 200 OK',
      body: 'root.Brand.ProdNbr=Q3536-LVE\n',
      sha: camera.bundleSha256,
    });
    const vapixPort = camera.vapixPort;
    await camera.stop();
    expect(logs.records.map((r) => r.message)).toContain('probe stopped');
    expect(camera.runner.alive).toBe(false);
    expect(camera.host.pendingTimers()).toBe(0);
    await expect(fetch(`http://127.0.0.1:${vapixPort}/`)).rejects.toThrow();
    camera = null;
    tmp.cleanup();
  });
});
