// armv7hf past 2038 (issue 13): the armv7hf binary, built with -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64, under
// qemu-arm with its wall clock at 2039-06-01 (libfaketime preloaded into qemu, see faketime.ts). QuickJS's
// Date, host.clock, log stamps, file mtimes, the outbox's ages across a restart and mbedTLS's certificate
// dates all read 2039. With a 32-bit time_t each of these fails (EOVERFLOW from glibc's clock and stat
// calls, certificates "not yet valid" against 1969); clocks.c and net_tls.c now refuse to compile that way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadProfile } from '../../host-sim/src/profiles';
import { buildConfig } from '../../host-sim/src/sim-host';
import { VapixServer } from '../../host-sim/src/vapix-server';
import { startMosquitto, type Mosquitto } from '../../test/helpers/mosquitto';
import { freePort } from '../../test/helpers/ports';
import { Subscriber } from '../../test/helpers/subscriber';
import { waitUntil } from '../../test/helpers/wait';
import { fakeClockAt } from './faketime';
import { BUILD_TIMEOUT_MS, NATIVE, TARGETS, ensureBuilt, runNative, startNative, tempDir, type NativeProcess } from './helpers';
import { makePki2039, type Pki2039 } from './pki-2039';

const target = TARGETS.find((t) => t.arch === 'armv7hf')!;
const AT = Date.UTC(2039, 5, 1); // 2039-06-01T00:00:00Z
const clock = fakeClockAt(AT);
const PREFIX = 'vigil/v1';
const profile = loadProfile('active-12');
const SERIAL = profile.data.identity.serialNumber;
const PASSWD_MTIME = Date.UTC(2039, 2, 1, 12, 0, 0, 250);
const CA_DEVICE_PATH = '/etc/vigil-test/ca-2039.pem';

type Json = Record<string, unknown>;

const tmp = tempDir('time64');
let pki: Pki2039;
let rootfs: string;
let n = 0;

/** A guest time is sane when it lies between the fake clock's start (a minute's slack) and its now. */
function expectGuestTime(what: string, value: unknown): void {
  const t = typeof value === 'string' ? Date.parse(value) : Number(value);
  expect(t, `${what} = ${String(value)}`).toBeGreaterThanOrEqual(AT - 60_000);
  expect(t, `${what} = ${String(value)}`).toBeLessThanOrEqual(clock.now() + 60_000);
}

beforeAll(() => {
  ensureBuilt();
  pki = makePki2039();
  // The camera's files, one of them last modified in 2039, and the test CA at a device path.
  rootfs = path.join(tmp.dir, 'rootfs');
  cpSync(profile.rootfsDir, rootfs, { recursive: true });
  utimesSync(path.join(rootfs, 'etc/passwd'), new Date(PASSWD_MTIME), new Date(PASSWD_MTIME));
  mkdirSync(path.join(rootfs, path.dirname(CA_DEVICE_PATH)), { recursive: true });
  cpSync(pki.caCert, path.join(rootfs, CA_DEVICE_PATH));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  pki?.cleanup();
  tmp.cleanup();
});

/** Runs a script under the 2039 clock; returns what it pushed to `out` and its log. */
async function runScript(body: string) {
  const file = path.join(tmp.dir, `s${n++}.js`);
  writeFileSync(file, `const h = globalThis.__vigilHost;\nconst out = (globalThis.__out = []);\n${body}\n`);
  const r = await runNative(target, ['--stderr', '--root', rootfs, '--data-dir', path.join(tmp.dir, 'script-data'), '--print-global', '__out', file], { env: clock.env });
  expect(r.code, r.stderr).toBe(0);
  return { ...r, out: JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null') as unknown[] };
}

/** The agent under the 2039 clock against the broker on `port`, with the profile's VAPIX answers. */
function startAgent(vapix: { host: string; port: number }, port: number, dataDir: string, extra: Record<string, string> = {}): NativeProcess {
  const config = buildConfig(profile, {
    BrokerHost: '127.0.0.1', BrokerPort: String(port), VapixHost: vapix.host, VapixPort: String(vapix.port),
    IntervalSec: '2', ReconnectMaxSec: '1', ...extra,
  });
  config.VapixUsername = profile.data.vapix.credentials.username;
  config.VapixPassword = profile.data.vapix.credentials.password;
  const configFile = path.join(tmp.dir, `agent${n++}.conf`);
  writeFileSync(configFile, Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  return startNative(target, ['--stderr', '--no-dbus', '--root', rootfs, '--data-dir', dataDir, '--config', configFile, path.join(NATIVE, 'out/agent.qjsbc')], { env: clock.env });
}

async function stopAgent(agent: NativeProcess): Promise<void> {
  if (agent.process.exitCode !== null) return;
  agent.process.kill('SIGTERM');
  const exit = await agent.exited;
  expect(exit, `stderr:\n${agent.stderr()}`).toEqual({ code: 0, signal: null });
}

/** Awaits a wait on the agent; its failure carries the agent's log as it is by then. */
async function logged<T>(agent: NativeProcess, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    throw new Error(`${(err as Error).message}\nthe agent's log:\n${agent.stderr()}`);
  }
}

const reports = (sub: Subscriber) => sub.json(`${PREFIX}/${SERIAL}/report`) as Json[];

describe(`the armv7hf host with its wall clock at 2039-06-01 (libfaketime ${target.label})`, () => {
  let vapix: VapixServer;
  let vapixAt: { host: string; port: number };

  beforeAll(async () => {
    vapix = new VapixServer({ profile: profile.data });
    vapixAt = { host: vapix.host, port: await vapix.listen() };
  });
  afterAll(async () => vapix?.close());

  it('reads 2039 from Date.now(), new Date(), host.clock.now() and stamps its log lines with it', async () => {
    const r = await runScript(`
      out.push(Date.now(), h.clock.now(), new Date().getUTCFullYear(), new Date(2040, 1, 29, 12).toISOString());
      h.log('info', 'the time is now');`);
    expectGuestTime('Date.now()', r.out[0]);
    expectGuestTime('host.clock.now()', r.out[1]);
    expect(r.out[2]).toBe(2039);
    expect(r.out[3]).toBe('2040-02-29T12:00:00.000Z'); // local time (TZ=UTC) through localtime_r past 2038
    const stamp = /^(\S+) info +the time is now$/m.exec(r.stderr);
    expect(stamp, r.stderr).not.toBeNull();
    expectGuestTime('the log stamp', stamp![1]);
  });

  it('reads a file modified in 2039 with its mtime to the millisecond', async () => {
    const r = await runScript(`h.fs.stat('/etc/passwd').then((st) => out.push(st.mtimeMs), (e) => out.push(String(e)));`);
    expect(r.out).toEqual([PASSWD_MTIME]);
  });

  it('publishes reports whose sentAt, startedAt and baseline are of 2039, with the 2039 mtime in the baseline', async () => {
    const broker = await startMosquitto();
    const sub = await Subscriber.connect(broker.url, [`${PREFIX}/#`]);
    const dataDir = path.join(tmp.dir, 'report-data');
    const agent = startAgent(vapixAt, broker.port, dataDir);
    try {
      await logged(agent, sub.waitFor('two reports', () => reports(sub).length >= 2, 120_000));
      const [first, second] = reports(sub);
      for (const [i, report] of [first, second].entries()) {
        expectGuestTime(`report ${i + 1} sentAt`, report.sentAt);
        expectGuestTime(`report ${i + 1} health.startedAt`, (report.health as Json).startedAt);
        expectGuestTime(`report ${i + 1} integrity.baseline.createdAt`, ((report.integrity as Json).baseline as Json).createdAt);
      }
      expect(Date.parse(second.sentAt as string)).toBeGreaterThan(Date.parse(first.sentAt as string));
      // The second cycle stats every file against the baseline: the 2039 mtime read again is no change.
      expect((second.integrity as Json).status).toBe('ok');
      const baseline = JSON.parse(readFileSync(path.join(dataDir, 'baseline.json'), 'utf8')) as { files: Record<string, unknown[]> };
      expect(baseline.files['/etc/passwd'][2]).toBe(PASSWD_MTIME);
      await stopAgent(agent);
    } finally {
      if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
      await sub.close();
      await broker.stop();
    }
  }, 180_000);

  it('replays the reports it queued while the broker was down, after a restart, with 2039 times and ages of minutes at most', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp.dir, 'outbox-data');
    const outbox = path.join(dataDir, 'outbox');
    const queued = () => { try { return readdirSync(outbox).filter((f) => f.endsWith('.json')).sort(); } catch { return []; } };
    const offline = startAgent(vapixAt, port, dataDir);
    let broker: Mosquitto | null = null;
    let sub: Subscriber | null = null;
    let agent: NativeProcess | null = null;
    try {
      await logged(offline, waitUntil('3 queued reports', () => queued().length >= 3, { timeoutMs: 120_000, pollMs: 200 }));
      await stopAgent(offline);
      const names = queued();
      const seqs = names.map((f) => Number(f.slice(0, 10)));
      // libfaketime moves the process's clock, not the kernel's: the files carry today's mtime. A camera's
      // kernel at 2039 would have stamped them in 2039, so shift them by the same offset.
      for (const f of names) {
        const mtime = statSync(path.join(outbox, f)).mtimeMs + clock.offsetMs;
        utimesSync(path.join(outbox, f), new Date(mtime), new Date(mtime));
      }
      broker = await startMosquitto({ port });
      sub = await Subscriber.connect(broker.url, [`${PREFIX}/#`]);
      const restartedAt = clock.now();
      agent = startAgent(vapixAt, port, dataDir);
      const s = sub;
      await logged(agent, s.waitFor(`the queued reports ${seqs.join(',')} and a new one`, () => {
        const got = new Set(reports(s).map((r) => r.seq));
        return seqs.every((q) => got.has(q)) && reports(s).some((r) => (r.seq as number) > seqs[seqs.length - 1]);
      }, 120_000));
      expect(agent.stderr()).toMatch(new RegExp(`${names.length} queued reports found on flash`));
      expect(agent.stderr()).not.toMatch(/cannot read queued report/);
      for (const report of reports(s)) {
        expectGuestTime(`report ${String(report.seq)} sentAt`, report.sentAt);
        const age = (report.health as Json).oldestQueuedAgeSec as number;
        expect(age, `report ${String(report.seq)} oldestQueuedAgeSec`).toBeGreaterThanOrEqual(0);
        expect(age, `report ${String(report.seq)} oldestQueuedAgeSec`).toBeLessThan(600);
        if (seqs.includes(report.seq as number)) expect(Date.parse(report.sentAt as string)).toBeLessThan(restartedAt);
      }
      await stopAgent(agent);
    } finally {
      for (const p of [offline, agent]) if (p && p.process.exitCode === null) p.process.kill('SIGKILL');
      await sub?.close();
      await broker?.stop();
    }
  }, 300_000);

  /** Mosquitto with a TLS listener (the agent's) and a plain one for the test's subscriber. */
  async function tlsBroker(cert: { cert: string; key: string }): Promise<{ broker: Mosquitto; sub: Subscriber }> {
    const plain = await freePort();
    const broker = await startMosquitto({
      extraLines: [`listener ${plain} 127.0.0.1`],
      extraListenerLines: [`cafile ${pki.caCert}`, `certfile ${cert.cert}`, `keyfile ${cert.key}`],
    });
    return { broker, sub: await Subscriber.connect(`mqtt://127.0.0.1:${plain}`, [`${PREFIX}/#`]) };
  }

  it('accepts a broker certificate valid from 2039-01-01 to 2040-12-31', async () => {
    const { broker, sub } = await tlsBroker(pki.valid);
    const agent = startAgent(vapixAt, broker.port, path.join(tmp.dir, 'tls-valid-data'), { BrokerTls: 'yes', BrokerCaFile: CA_DEVICE_PATH });
    try {
      await logged(agent, sub.waitFor('a report over TLS', () => reports(sub).length > 0, 120_000));
      expectGuestTime('sentAt', reports(sub)[0].sentAt);
      expect(agent.stderr()).not.toMatch(/TLS handshake failed/);
      await stopAgent(agent);
    } finally {
      if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
      await sub.close();
      await broker.stop();
    }
  }, 180_000);

  it('refuses a broker certificate that expired on 2038-06-01', async () => {
    const { broker, sub } = await tlsBroker(pki.expired);
    const agent = startAgent(vapixAt, broker.port, path.join(tmp.dir, 'tls-expired-data'), { BrokerTls: 'yes', BrokerCaFile: CA_DEVICE_PATH });
    try {
      await logged(agent, waitUntil('a refused handshake', () => /TLS handshake failed: .*validity has expired/.test(agent.stderr()), { timeoutMs: 120_000, pollMs: 200 }));
      expect(agent.stderr()).not.toMatch(/starts in the future/);
      expect(reports(sub)).toEqual([]);
      await stopAgent(agent);
    } finally {
      if (agent.process.exitCode === null) agent.process.kill('SIGKILL');
      await sub.close();
      await broker.stop();
    }
  }, 180_000);
});

describe('the armv7hf objects', () => {
  // glibc's 32-bit time entry points; with _TIME_BITS=64 the headers call __clock_gettime64, __stat64_time64, … instead.
  const TIME32 = ['time', 'gettimeofday', 'clock_gettime', 'stat64', 'lstat64', 'fstat64', 'gmtime_r', 'localtime_r', 'gmtime', 'mktime', 'fcntl64', 'setsockopt', 'getsockopt', 'pthread_cond_timedwait'];

  it("call only glibc's 64-bit time functions (QuickJS, mbedTLS and the host)", () => {
    const obj = path.join(NATIVE, 'out/armv7hf/obj');
    const objects = readdirSync(obj).filter((f) => f.endsWith('.o')).map((f) => path.join(obj, f));
    const undefinedSymbols = execFileSync('arm-linux-gnueabihf-nm', ['-u', ...objects], { maxBuffer: 16 << 20 }).toString().split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
    expect(undefinedSymbols.filter((s) => TIME32.includes(s))).toEqual([]);
    for (const s of ['__clock_gettime64', '__gettimeofday64', '__lstat64_time64', '__gmtime64_r']) expect(undefinedSymbols).toContain(s);
  });
});
