/**
 * File, parameter and socket faults (host-sim/src/faults.ts) against a camera stand-in with a real
 * VapixServer: each change lands in the camera's private rootfs copy (beside its state dir) and is put
 * back after FOR, and the repository's bundled profiles are never written (their hashes are compared).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deviceStateDir, loadDeviceState, preparePrivateRootfs } from '../src/device-changes';
import { parseFaultSpec, startFaultScript, type FaultStep } from '../src/faults';
import { loadProfile, PROFILES_DIR, type LoadedProfile } from '../src/profiles';
import { parseProcNet, TCP_LISTEN, UDP_UNCONNECTED } from '../src/procnet';
import { VapixServer } from '../src/vapix-server';
import type { SimCamera } from '../src/camera';

/** Every file under host-sim/profiles/ → its sha256 (links → their target text). */
function hashTree(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      out.set(p, 'folder');
      hashTree(p, out);
    } else if (e.isSymbolicLink()) out.set(p, `-> ${readlinkSync(p)}`);
    else out.set(p, createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
}

const before = hashTree(PROFILES_DIR);
let root: string;
const servers: VapixServer[] = [];

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'vigil-faults-device-'));
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A camera as a fault script sees it: the profile, a SimHost's device (its rootfsDir), a real VAPIX server, a state dir. */
function camera(name = 'lts2024'): { cam: SimCamera; profile: LoadedProfile; stateDir: string; logs: string[] } {
  const profile = loadProfile(name);
  const stateDir = path.join(root, `cam-${++n}`, 'state');
  mkdirSync(stateDir, { recursive: true });
  const vapix = new VapixServer({ profile: profile.data });
  servers.push(vapix);
  const cam = { profile, stateDir, host: { device: { rootfsDir: profile.rootfsDir } }, vapix } as unknown as SimCamera;
  return { cam, profile, stateDir, logs: [] };
}

function run(c: ReturnType<typeof camera>, specs: string[] | FaultStep[]) {
  const steps = specs.map((s) => (typeof s === 'string' ? parseFaultSpec(s) : s));
  return startFaultScript(steps, { camera: () => c.cam, restart: async () => {}, log: (m) => void c.logs.push(m) });
}

const privateRootfs = (stateDir: string) => path.join(deviceStateDir(stateDir), 'rootfs');

describe('file faults', () => {
  it('moves the camera to a private rootfs copy when the script starts, keeping relative symlinks, and says so (rootfs-copy-mid-run-drifts-symlinks)', () => {
    vi.useFakeTimers();
    const c = camera('exposed');
    run(c, ['file-change:/usr/bin/curl@10']);
    expect(c.cam.host.device.rootfsDir).toBe(privateRootfs(c.stateDir));
    expect(readlinkSync(path.join(c.cam.host.device.rootfsDir, 'usr/bin/sh'))).toBe('busybox');
    expect(readFileSync(path.join(c.cam.host.device.rootfsDir, 'etc/passwd'))).toEqual(readFileSync(path.join(c.profile.rootfsDir, 'etc/passwd')));
    // new inodes under a running agent: a symlink then shows as changed, so the switch is said out loud
    expect(c.logs[0]).toContain('the camera now reads a private copy of its rootfs');
  });

  it('uses a copy made before the camera started, without switching (rootfs-copy-mid-run-drifts-symlinks)', () => {
    vi.useFakeTimers();
    const c = camera();
    const copy = preparePrivateRootfs(c.profile, c.stateDir);
    c.cam.host.device.rootfsDir = loadDeviceState(c.stateDir).rootfsDir as string;
    run(c, ['file-change:/etc/passwd@0']);
    expect(c.cam.host.device.rootfsDir).toBe(copy);
    expect(c.logs.some((l) => l.includes('private copy'))).toBe(false);
  });

  it('appends to a file at its start and puts back its bytes and mtime after its duration', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['file-change:/etc/passwd@2+3']);
    const file = path.join(privateRootfs(c.stateDir), 'etc/passwd');
    const original = readFileSync(file);
    const mtime = statSync(file).mtimeMs;
    vi.advanceTimersByTime(2000);
    const changed = readFileSync(file);
    expect(changed.length).toBeGreaterThan(original.length);
    expect(changed.subarray(0, original.length)).toEqual(original);
    vi.advanceTimersByTime(3000);
    expect(readFileSync(file)).toEqual(original);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(c.logs.filter((l) => l.startsWith('fault '))).toEqual(['fault file-change /etc/passwd starts', 'fault file-change /etc/passwd ends']);
  });

  it('adds a file where there was none and removes it after its duration', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['file-add:/usr/bin/new-dir/.hidden@1+1']);
    const file = path.join(privateRootfs(c.stateDir), 'usr/bin/new-dir/.hidden');
    vi.advanceTimersByTime(1000);
    expect(statSync(file).isFile()).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(existsSync(file)).toBe(false);
  });

  it('removes a file and puts it back, bytes and mode, after its duration', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['file-remove:/usr/bin/curl@1+1']);
    const file = path.join(privateRootfs(c.stateDir), 'usr/bin/curl');
    const bytes = readFileSync(file);
    const mode = statSync(file).mode;
    vi.advanceTimersByTime(1000);
    expect(existsSync(file)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(readFileSync(file)).toEqual(bytes);
    expect(statSync(file).mode).toBe(mode);
  });

  it('removes a symlink itself, never what it points to, and puts the link back', () => {
    vi.useFakeTimers();
    const c = camera('exposed');
    run(c, ['file-remove:/usr/bin/sh@1+1']);
    const link = path.join(privateRootfs(c.stateDir), 'usr/bin/sh');
    vi.advanceTimersByTime(1000);
    expect(existsSync(link)).toBe(false);
    expect(existsSync(path.join(privateRootfs(c.stateDir), 'usr/bin/busybox'))).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('busybox');
  });

  it('refuses, and logs, a change through a folder symlink that leads out of the rootfs', () => {
    vi.useFakeTimers();
    const c = camera();
    const outside = path.join(root, `outside-${n}`);
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'victim'), 'untouched\n');
    preparePrivateRootfs(c.profile, c.stateDir);
    symlinkSync(outside, path.join(privateRootfs(c.stateDir), 'escape'));
    run(c, ['file-change:/escape/victim@1', 'file-add:/escape/new@1']);
    vi.advanceTimersByTime(1000);
    expect(readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('untouched\n');
    expect(existsSync(path.join(outside, 'new'))).toBe(false);
    expect(c.logs.filter((l) => l.includes('failed: [vigil] [faults] /escape/'))).toHaveLength(2);
  });

  it('logs a change of a file that is not there and changes nothing', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['file-change:/etc/nothing-here@1+1']);
    vi.advanceTimersByTime(2000);
    expect(c.logs).toContain('fault file-change /etc/nothing-here failed: [vigil] [faults] file-change /etc/nothing-here: no such file in the rootfs');
  });

  it('refuses a profile script step whose path climbs out of the rootfs before anything runs', () => {
    const c = camera();
    expect(() => run(c, [{ kind: 'file-change', at: 1, path: '/usr/../../etc/passwd' }])).toThrow('[vigil] [faults] fault file-change at 1 s: the path must stay inside the rootfs (no ..)');
    expect(c.cam.host.device.rootfsDir).toBe(c.profile.rootfsDir);
  });

  it('refuses a private rootfs inside the bundled profiles', () => {
    const profile = loadProfile('lts2024');
    expect(() => preparePrivateRootfs(profile, path.join(PROFILES_DIR, 'lts2024', 'state'))).toThrow('[vigil] [faults]');
    expect(existsSync(path.join(PROFILES_DIR, 'lts2024', 'state.device'))).toBe(false);
  });
});

describe('listen faults', () => {
  it('adds a LISTEN row to /proc/net/tcp and takes it away after its duration', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['listen:2323@1+1']);
    const file = path.join(privateRootfs(c.stateDir), 'proc/net/tcp');
    const original = readFileSync(file, 'utf8');
    vi.advanceTimersByTime(1000);
    const rows = parseProcNet(readFileSync(file, 'utf8'));
    expect(rows.find((r) => r.port === 2323)).toMatchObject({ localHex: '00000000', state: TCP_LISTEN });
    expect(rows).toHaveLength(parseProcNet(original).length + 1);
    vi.advanceTimersByTime(1000);
    expect(readFileSync(file, 'utf8')).toBe(original);
  });

  it('adds an unconnected UDP socket on the IPv6 any address to /proc/net/udp6', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['listen:161/udp6@0']);
    vi.advanceTimersByTime(1);
    const rows = parseProcNet(readFileSync(path.join(privateRootfs(c.stateDir), 'proc/net/udp6'), 'utf8'));
    expect(rows.find((r) => r.port === 161)).toMatchObject({ localHex: '0'.repeat(32), state: UDP_UNCONNECTED });
  });
});

describe('param faults', () => {
  async function paramCgi(vapix: VapixServer, profile: LoadedProfile, group: string): Promise<string> {
    const port = vapix.port || (await vapix.listen());
    const { username, password } = profile.data.vapix.credentials;
    const res = await fetch(`http://127.0.0.1:${port}/axis-cgi/param.cgi?action=list&group=${group}`, {
      headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') },
    });
    return res.text();
  }

  it('makes param.cgi answer the new value, then the profile value again after its duration', async () => {
    const c = camera();
    const script = run(c, ['param:Network.SSH.Enabled=yes@0+0.5']);
    await vi.waitFor(() => expect(c.logs).toContain('fault param Network.SSH.Enabled=yes starts'));
    expect(await paramCgi(c.cam.vapix, c.profile, 'Network.SSH')).toContain('root.Network.SSH.Enabled=yes');
    await vi.waitFor(() => expect(c.logs).toContain('fault param Network.SSH.Enabled=yes ends'));
    expect(await paramCgi(c.cam.vapix, c.profile, 'Network.SSH')).toContain('root.Network.SSH.Enabled=no');
    script.stop();
  });

  it('keeps a set parameter for the camera that restarts on the same state dir', () => {
    vi.useFakeTimers();
    const c = camera();
    run(c, ['param:Network.SSH.Enabled=yes@1']);
    vi.advanceTimersByTime(1000);
    expect(loadDeviceState(c.stateDir).params).toEqual({ 'Network.SSH.Enabled': 'yes' });
    const restarted = new VapixServer({ profile: c.profile.data, params: loadDeviceState(c.stateDir).params });
    expect(restarted.paramOverride('Network.SSH.Enabled')).toBe('yes');
  });

  it('puts back what is active when the script is stopped', () => {
    vi.useFakeTimers();
    const c = camera();
    const script = run(c, ['param:Network.SSH.Enabled=yes@0', 'file-change:/etc/group@0']);
    vi.advanceTimersByTime(1);
    const file = path.join(privateRootfs(c.stateDir), 'etc/group');
    expect(readFileSync(file, 'utf8')).toContain('file-change');
    script.stop();
    expect(c.cam.vapix.paramOverride('Network.SSH.Enabled')).toBeNull();
    expect(readFileSync(file)).toEqual(readFileSync(path.join(c.profile.rootfsDir, 'etc/group')));
  });
});

describe('the bundled profiles', () => {
  it('are byte for byte what they were before these faults ran', () => {
    expect(hashTree(PROFILES_DIR)).toEqual(before);
  });
});
