import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeHost } from '../../../test/fake-host';
import { loadTestdata, makeContext, serveVapix } from '../../../test/vapix-fixture';
import type { ServicesReport } from '../../report/types';
import { collectServices, evaluateServices, type ServicesInput } from './services';
import { decodeAddress, parseSocketTable } from './sockets';

function collect(testCase: string, input?: ServicesInput) {
  const fake = new FakeHost();
  const requests = serveVapix(fake, loadTestdata(fake, fs, `${import.meta.dirname}/testdata/${testCase}`));
  return { result: collectServices(makeContext(fake), input), requests };
}

const entry = (r: ServicesReport, name: string) => r.entries.find((e) => e.name === name);
const ids = (r: ServicesReport) => r.findings.map((f) => f.id);

describe('collectServices', () => {
  it('merges configured state and listening sockets by service name on a default camera', async () => {
    const { value, errors } = await collect('valid').result;
    expect(errors).toEqual([]);
    expect(entry(value, 'upnp')).toEqual({
      name: 'upnp',
      configured: 'on',
      listening: [
        { proto: 'tcp', address: '0.0.0.0', port: 49152 },
        { proto: 'udp', address: '0.0.0.0', port: 1900 },
        { proto: 'udp', address: '239.255.255.250', port: 1900 },
      ],
    });
    expect(entry(value, 'https')).toEqual({ name: 'https', configured: 'on', listening: [{ proto: 'tcp6', address: '::', port: 443 }] });
    expect(entry(value, 'http')?.listening).toEqual([
      { proto: 'tcp', address: '127.0.0.12', port: 80 },
      { proto: 'tcp6', address: '::', port: 80 },
    ]);
    expect(entry(value, 'ssh')).toEqual({ name: 'ssh', configured: 'off', listening: [] });
    expect(entry(value, 'ntp')).toEqual({ name: 'ntp', configured: 'on', listening: [] });
    expect(entry(value, 'dhcp')?.listening.map((s) => `${s.proto}:${s.port}`)).toEqual(['udp:68', 'udp6:546']);
    expect(entry(value, 'telnet')).toBeUndefined();
  });

  it('counts only TCP LISTEN and unconnected UDP sockets', async () => {
    const { value } = await collect('valid').result;
    expect(value.totalListening).toBe(16);
  });

  it('names a listener no service claims after its protocol and port', async () => {
    const { value } = await collect('valid').result;
    expect(entry(value, 'udp/323')).toEqual({
      name: 'udp/323',
      configured: 'unknown',
      listening: [
        { proto: 'udp', address: '127.0.0.1', port: 323 },
        { proto: 'udp6', address: '::1', port: 323 },
      ],
    });
  });

  it('finds the default discovery protocols, HTTP, 802.1X and IP filter on a default camera', async () => {
    const { value } = await collect('valid').result;
    expect(ids(value)).toEqual(['upnp-enabled', 'bonjour-enabled', 'ws-discovery-enabled', 'http-without-https-only', 'dot1x-off', 'ip-filter-off']);
    expect(value.findings[0]).toEqual({
      id: 'upnp-enabled',
      control: 'B10',
      severity: 'medium',
      summary: 'UPnP/SSDP discovery is on',
      evidence: ['Network.UPnP.Enabled=yes', 'listening tcp 0.0.0.0:49152', 'listening udp 0.0.0.0:1900', 'listening udp 239.255.255.250:1900'],
    });
  });

  it('finds every exposure on an exposed camera, keyed to the hardening controls', async () => {
    const { value, errors } = await collect('exposed').result;
    expect(errors).toEqual([]);
    expect(value.findings.map((f) => [f.id, f.control, f.severity])).toEqual([
      ['ssh-enabled', 'B14', 'medium'],
      ['ftp-enabled', 'E1', 'high'],
      ['telnet-listening', 'E1', 'high'],
      ['snmp-v1-v2c', 'E5', 'high'],
      ['upnp-enabled', 'B10', 'medium'],
      ['bonjour-enabled', 'B10', 'low'],
      ['ws-discovery-enabled', 'B10', 'low'],
      ['http-without-https-only', 'Legacy', 'medium'],
      ['basic-auth', 'Legacy', 'medium'],
      ['ntp-not-configured', 'B6', 'medium'],
      ['dot1x-off', 'Default', 'low'],
      ['ip-filter-off', 'B20', 'medium'],
      ['unsigned-apps-allowed', 'B8', 'high'],
    ]);
  });

  it('gives parameter values and sockets as evidence', async () => {
    const { value } = await collect('exposed').result;
    const evidence = (id: string) => value.findings.find((f) => f.id === id)?.evidence;
    expect(evidence('ssh-enabled')).toEqual(['Network.SSH.Enabled=yes', 'listening tcp 0.0.0.0:22', 'listening tcp6 :::22']);
    expect(evidence('telnet-listening')).toEqual(['listening tcp 0.0.0.0:23']);
    expect(evidence('snmp-v1-v2c')).toEqual(['SNMP.Enabled=yes', 'SNMP.V1=yes', 'SNMP.V2c=yes']);
    expect(evidence('http-without-https-only')).toEqual([
      'System.BoaGroupPolicy.admin=both',
      'System.BoaGroupPolicy.operator=both',
      'System.BoaGroupPolicy.viewer=http',
      'HTTPS.Enabled=no',
    ]);
    expect(evidence('ntp-not-configured')).toEqual(['Time.SyncSource=None']);
    expect(evidence('unsigned-apps-allowed')).toEqual(['AllowUnsigned=true']);
  });

  it('reports an unknown TCP listener as tcp/<port>', async () => {
    const { value } = await collect('exposed').result;
    expect(entry(value, 'tcp/8080')).toEqual({ name: 'tcp/8080', configured: 'unknown', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 8080 }] });
  });

  it('has no findings on a hardened camera', async () => {
    const { value, errors } = await collect('hardened').result;
    expect(errors).toEqual([]);
    expect(value.findings).toEqual([]);
    expect(entry(value, 'http')).toMatchObject({ configured: 'off' });
    expect(entry(value, 'rtsps')).toEqual({ name: 'rtsps', configured: 'on', listening: [{ proto: 'tcp6', address: '::', port: 322 }] });
  });

  it('uses the AllowUnsigned it is given instead of asking config.cgi', async () => {
    const { result, requests } = collect('valid', { unsignedAllowed: true });
    const { value } = await result;
    expect(ids(value)).toContain('unsigned-apps-allowed');
    expect(requests.map((r) => r.path)).toEqual(['/axis-cgi/param.cgi']);
  });

  it('asks param.cgi for the service groups', async () => {
    const { result, requests } = collect('valid');
    await result;
    expect(requests.find((r) => r.path === '/axis-cgi/param.cgi')?.query).toBe('action=list&group=Network,SNMP,HTTPS,System,Time,WebService');
  });

  it('still reports sockets and socket-based findings when param.cgi and tables are missing', async () => {
    const { value, errors } = await collect('missing').result;
    expect(value.entries).toEqual([
      { name: 'ssh', configured: 'unknown', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 22 }] },
      { name: 'http', configured: 'unknown', listening: [{ proto: 'tcp', address: '127.0.0.12', port: 80 }] },
    ]);
    expect(ids(value)).toEqual(['ssh-enabled']);
    expect(errors.map((e) => e.code)).toEqual(['EHTTP', 'ENOENT', 'ENOENT', 'ENOENT']);
    expect(errors[1].message).toBe('[vigil] [services] cannot read /proc/net/tcp6: ENOENT: /proc/net/tcp6');
  });

  it('makes no finding from a missing parameter', async () => {
    const { value } = await collect('missing').result;
    expect(ids(value)).not.toContain('dot1x-off');
    expect(ids(value)).not.toContain('ntp-not-configured');
    expect(ids(value)).not.toContain('unsigned-apps-allowed');
  });

  it('keeps the good rows of malformed tables and reports the rest', async () => {
    const { value, errors } = await collect('malformed').result;
    expect(value.entries.map((e) => `${e.name}:${e.listening.length}`)).toEqual(['ssh:1', 'rtsp:1']);
    expect(errors.map((e) => e.code)).toEqual(['EVAPIX', 'EVAPIX', 'EPARSE', 'EPARSE', 'EPARSE']);
    expect(errors[2].message).toBe('[vigil] [services] /proc/net/tcp: 1 malformed line(s), first "1: 00000000:00ZZ 00000000:0000 0A 00000000:00000000 00:00000"');
  });

  it('reports param.cgi groups the device does not have', async () => {
    const fake = new FakeHost();
    serveVapix(fake, { '/axis-cgi/param.cgi': 'root.Network.SSH.Enabled=no\nroot.SNMP.Enabled=no\n' });
    const { errors } = await collectServices(makeContext(fake), { unsignedAllowed: null });
    expect(errors.find((e) => e.code === 'ENOPARAM')?.message).toBe('[vigil] [services] param.cgi has no group HTTPS, System, Time, WebService');
  });

  it('reads the socket tables from the configured directory', async () => {
    const fake = new FakeHost();
    serveVapix(fake, {});
    fake.addFile('/sim/net/tcp', '  sl  local_address rem_address   st\n   0: 00000000:0016 00000000:0000 0A 0\n');
    const { value } = await collectServices(makeContext(fake, { ProcNetDir: '/sim/net' }), { unsignedAllowed: null });
    expect(entry(value, 'ssh')?.listening).toEqual([{ proto: 'tcp', address: '0.0.0.0', port: 22 }]);
  });
});

describe('evaluateServices', () => {
  it('takes the HTTP port from System.BoaPort', () => {
    const r = evaluateServices(new Map([['System.BoaPort', '8000']]), [{ proto: 'tcp', address: '0.0.0.0', port: 8000 }], null);
    expect(r.entries).toEqual([{ name: 'http', configured: 'unknown', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 8000 }] }]);
  });

  it('flags SSH listening beyond loopback even when the parameter says off', () => {
    const r = evaluateServices(new Map([['Network.SSH.Enabled', 'no']]), [{ proto: 'tcp6', address: '::', port: 22 }], null);
    expect(r.findings.map((f) => f.evidence)).toEqual([['listening tcp6 :::22']]);
  });

  it('does not flag a service listening on loopback only', () => {
    const r = evaluateServices(new Map(), [{ proto: 'tcp', address: '127.0.0.1', port: 23 }], null);
    expect(r.findings).toEqual([]);
  });

  it('flags NTP selected without any server', () => {
    const p = new Map([
      ['Time.SyncSource', 'NTP'],
      ['Time.NTP.Server', ''],
      ['Time.ObtainFromDHCP', 'no'],
    ]);
    expect(evaluateServices(p, [], null).findings.map((f) => f.id)).toEqual(['ntp-not-configured']);
  });

  it('flags NTP whose only server is 0.0.0.0, the factory value for none', () => {
    const p = new Map([
      ['Time.SyncSource', 'NTP'],
      ['Time.NTP.Server', '0.0.0.0'],
      ['Time.ObtainFromDHCP', 'no'],
    ]);
    expect(evaluateServices(p, [], null).findings.map((f) => f.evidence)).toEqual([['Time.SyncSource=NTP', 'Time.NTP.Server=0.0.0.0', 'Time.ObtainFromDHCP=no']]);
  });

  it('does not flag NTP with 0.0.0.0 beside a real server, or with servers from DHCP', () => {
    const ntp = (server: string, dhcp: string) => evaluateServices(new Map([['Time.SyncSource', 'NTP'], ['Time.NTP.Server', server], ['Time.ObtainFromDHCP', dhcp]]), [], null).findings;
    expect([ntp('0.0.0.0,192.0.2.10', 'no'), ntp('0.0.0.0', 'yes')]).toEqual([[], []]);
  });

  it('does not flag SNMP v3 only', () => {
    const p = new Map([
      ['SNMP.Enabled', 'yes'],
      ['SNMP.V1', 'no'],
      ['SNMP.V2c', 'no'],
      ['SNMP.V3', 'yes'],
    ]);
    expect(evaluateServices(p, [], null).findings).toEqual([]);
  });
});

describe('socket tables', () => {
  it('decodes little-endian IPv4 and IPv6 addresses', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('5A01A8C0')).toBe('192.168.1.90');
    expect(decodeAddress('00000000000000000000000000000000')).toBe('::');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00005A01A8C0')).toBe('::ffff:192.168.1.90');
    expect(decodeAddress('000080FE00000000FF8ECCAEC2A1F3FE')).toBe('fe80::aecc:8eff:fef3:a1c2');
    expect(decodeAddress('B80D0120000000000000000000000100')).toBe('2001:db8::1:0');
  });

  it('rejects an IPv4-width address in an IPv6 table', () => {
    const { rows, bad } = parseSocketTable('   0: 00000000:0016 00000000:0000 0A 00000000:00000000\n', 'tcp6');
    expect(rows).toEqual([]);
    expect(bad).toHaveLength(1);
  });

  it('skips connected UDP sockets', () => {
    const { rows } = parseSocketTable('  1: 5A01A8C0:A112 0101A8C0:0035 01 0\n  2: 00000000:0044 00000000:0000 07 0\n', 'udp');
    expect(rows).toEqual([{ proto: 'udp', address: '0.0.0.0', port: 68 }]);
  });
});

describe('report limits', () => {
  it('keeps findings within the report schema: at most 32 evidence strings of 256 characters', () => {
    const sockets = Array.from({ length: 40 }, (_, i) => ({ proto: 'udp' as const, address: `10.0.0.${i + 1}`, port: 1900 }));
    const p = new Map([['Network.UPnP.Enabled', 'yes'], ['Network.HTTP.AuthenticationPolicy', 'basic' + 'x'.repeat(300)]]);
    const r = evaluateServices(p, sockets, null);
    const upnp = r.findings.find((f) => f.id === 'upnp-enabled');
    expect(upnp?.evidence).toHaveLength(32);
    expect(r.findings.find((f) => f.id === 'basic-auth')?.evidence[0]).toHaveLength(256);
    expect(Object.keys(upnp as object)).toEqual(['id', 'control', 'severity', 'summary', 'evidence']);
  });
});
