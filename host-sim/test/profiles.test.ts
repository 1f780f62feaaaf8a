// Every bundled profile validates, is unique, and is consistent with itself: the sockets in its
// /proc/net match its service parameters, its IntegrityPaths exist, and the tampered profile's shipped
// baseline differs from its rootfs in exactly the intended ways.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ProfileError, compareOsVersions, listProfiles, loadProfile, profileParams } from '../src/profiles';
import { parseProcNet } from '../src/procnet';
import { minimalProfileData, tempDir } from './helpers';

/** Profiles whose sshd is meant to be down while its parameter says on (a mismatch the fleet must show). */
const SSH_ON_NOT_LISTENING = ['lts2022-uncommitted'];
const EXPECTED = ['active-12', 'bad-vapix', 'exposed', 'hardened', 'legacy-840', 'lts2020-eol', 'lts2022', 'lts2022-uncommitted', 'lts2024', 'tampered'];

function listening(rootfs: string, proto: 'tcp' | 'tcp6' | 'udp' | 'udp6', port: number): boolean {
  const rows = parseProcNet(readFileSync(path.join(rootfs, 'proc/net', proto), 'utf8'));
  return rows.some((r) => r.port === port && (proto.startsWith('udp') ? r.state === 0x07 : r.state === 0x0a));
}

describe('bundled profiles', () => {
  it('include at least the ten named profiles', () => {
    expect(listProfiles()).toEqual(expect.arrayContaining(EXPECTED));
  });

  it('have unique serials', () => {
    const serials = listProfiles().map((n) => loadProfile(n).data.identity.serialNumber);
    expect(new Set(serials).size).toBe(serials.length);
  });

  for (const name of EXPECTED) {
    describe(name, () => {
      const p = loadProfile(name);
      const params = profileParams(p.data);
      const on = (k: string) => params[k] === 'yes';
      const any = (port: number, ...protos: Array<'tcp' | 'tcp6' | 'udp' | 'udp6'>) => protos.some((proto) => listening(p.rootfsDir, proto, port));

      it('validates against the schema', () => {
        expect(p.data.name).toBe(name);
      });

      it('ships the socket tables and uptime the agent reads', () => {
        for (const f of ['proc/net/tcp', 'proc/net/tcp6', 'proc/net/udp', 'proc/net/udp6', 'proc/uptime']) expect(existsSync(path.join(p.rootfsDir, f))).toBe(true);
        expect(readFileSync(path.join(p.rootfsDir, 'proc/uptime'), 'utf8')).toMatch(/^\d+\.\d{2} \d+\.\d{2}\n$/);
      });

      it('has every IntegrityPaths entry in its rootfs', () => {
        for (const entry of p.data.agent.IntegrityPaths.split(',')) expect(existsSync(path.join(p.rootfsDir, entry)), entry).toBe(true);
      });

      it('listens where its parameters say services are on', () => {
        expect(any(22, 'tcp', 'tcp6')).toBe(on('Network.SSH.Enabled') && !SSH_ON_NOT_LISTENING.includes(name));
        expect(any(21, 'tcp', 'tcp6')).toBe(on('Network.FTP.Enabled'));
        expect(any(49152, 'tcp') && any(1900, 'udp')).toBe(on('Network.UPnP.Enabled'));
        expect(any(5353, 'udp', 'udp6')).toBe(on('Network.Bonjour.Enabled'));
        expect(any(3702, 'udp', 'udp6')).toBe(on('WebService.DiscoveryMode.Discoverable'));
        expect(any(161, 'udp')).toBe(on('SNMP.Enabled'));
        expect(any(443, 'tcp', 'tcp6')).toBe(on('HTTPS.Enabled'));
        expect(any(322, 'tcp', 'tcp6')).toBe(on('Network.RTSPS.Enabled'));
      });

      it('has AllowUnsigned exactly when its AXIS OS has the switch (11.2)', () => {
        expect(p.data.applications.allowUnsigned !== undefined).toBe(compareOsVersions(p.data.os.version, '11.2') >= 0);
      });
    });
  }

  it('keeps SSH on in the parameters but not listening on the uncommitted LTS 2022 camera, as intended', () => {
    const p = loadProfile('lts2022-uncommitted');
    expect([p.data.params['Network.SSH.Enabled'], listening(p.rootfsDir, 'tcp', 22), listening(p.rootfsDir, 'tcp', 23)]).toEqual(['yes', false, true]);
  });

  it('makes the hardened profile quiet: no SSH, FTP, Telnet, discovery, SNMP or plain HTTP', () => {
    const p = loadProfile('hardened');
    for (const port of [21, 22, 23, 80, 49152]) expect(listening(p.rootfsDir, 'tcp', port) || listening(p.rootfsDir, 'tcp6', port)).toBe(false);
    expect(readFileSync(path.join(p.rootfsDir, 'proc/net/udp'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(p.data.params['System.BoaGroupPolicy.admin']).toBe('https');
    expect(p.data.params['Time.NTP.Server'].split(',')).toHaveLength(2);
  });

  it('ships the tampered camera a prior baseline that differs from its rootfs as intended', () => {
    const p = loadProfile('tampered');
    const baseline = JSON.parse(readFileSync(path.join(p.localdataDir as string, 'baseline.json'), 'utf8')) as {
      v: number;
      paths: string[];
      files: Record<string, [string, number, number, number, string]>;
    };
    expect(baseline.v).toBe(1);
    expect(baseline.paths).toEqual(p.data.agent.IntegrityPaths.split(','));
    const now = new Map<string, string>();
    const walk = (device: string) => {
      const real = path.join(p.rootfsDir, device);
      if (statSync(real).isDirectory()) for (const n of readdirSync(real)) walk(`${device}/${n}`);
      else now.set(device, createHash('sha256').update(readFileSync(real)).digest('hex'));
    };
    for (const root of baseline.paths) walk(root);
    const changed = [...now.keys()].filter((f) => baseline.files[f] && baseline.files[f][4] !== now.get(f)).sort();
    const added = [...now.keys()].filter((f) => !baseline.files[f]).sort();
    const removed = Object.keys(baseline.files).filter((f) => !now.has(f)).sort();
    expect(changed).toEqual(['/etc/init.d/network', '/etc/passwd', '/usr/sbin/sshd']);
    expect(added).toEqual(['/etc/init.d/S99persist', '/usr/bin/.kworkerd']);
    expect(removed).toEqual(['/usr/sbin/ntpd']);
    expect(p.data.applications.installed.some((a) => a.signatureStatus === 'Unsigned')).toBe(true);
  });

  it('gives the bad-vapix profile faults on several CGIs', () => {
    const f = loadProfile('bad-vapix').data.faults?.vapix;
    expect(Array.isArray(f) ? f.map((x) => x.mode).sort() : []).toEqual(['garbage', 'hang', 'slow', 'status500']);
  });
});

describe('loadProfile on bad data', () => {
  function writeProfile(data: unknown, raw?: string) {
    const tmp = tempDir('badprofile');
    const dir = path.join(tmp.dir, 'test');
    mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    writeFileSync(path.join(dir, 'profile.json'), raw ?? JSON.stringify(data));
    return { dir, cleanup: tmp.cleanup };
  }

  it('names the file and each bad JSON path', () => {
    const bad = minimalProfileData();
    (bad.identity as { serialNumber: string }).serialNumber = '00408C123456';
    (bad as unknown as Record<string, unknown>).colour = 'blue';
    const { dir, cleanup } = writeProfile(bad);
    try {
      expect(() => loadProfile(dir)).toThrow(ProfileError);
      let message = '';
      try {
        loadProfile(dir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain(path.join(dir, 'profile.json'));
      expect(message).toMatch(/\/identity\/serialNumber: must match pattern/);
      expect(message).toContain('unknown property "colour"');
    } finally {
      cleanup();
    }
  });

  it('says when the file is not JSON', () => {
    const { dir, cleanup } = writeProfile(null, '{ "name": ');
    try {
      expect(() => loadProfile(dir)).toThrow(/profile\.json: not valid JSON/);
    } finally {
      cleanup();
    }
  });

  it('lists the bundled profiles when a name is unknown', () => {
    expect(() => loadProfile('no-such-camera')).toThrow(/bundled profiles: .*active-12/);
  });
});
