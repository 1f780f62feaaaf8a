/**
 * Services collector: what the parameters say is configured (param.cgi), merged by service name with what
 * /proc/net shows listening, and findings keyed to the AXIS OS hardening guide (reference axis-os.md §5).
 *
 * AllowUnsigned (B8) is an input: the integrity collector already reads it, so the caller passes its
 * value on; when the caller passes nothing this collector asks applications/config.cgi itself.
 */
import type { Finding, ListeningSocket, Maybe, ServiceEntry, ServicesReport, ServiceState, Severity } from '../../report/types';
import { type CollectorContext, type CollectorResult, collectorError, runCollector } from '../context';
import { isLoopback, readListeningSockets } from './sockets';
import { APPS_CONFIG_CGI } from '../../vapix/vapix';

export interface ServicesInput {
  /** From the integrity collector; undefined = ask config.cgi here. */
  unsignedAllowed?: Maybe<boolean>;
}

type Params = Map<string, string>;

export const SERVICE_PARAM_GROUPS = ['Network', 'SNMP', 'HTTPS', 'System', 'Time', 'WebService'];

interface ServiceDef {
  name: string;
  tcp?: number[];
  udp?: number[];
  /** The yes/no parameter that switches the service. */
  param?: string;
  /** Parameters holding the actual port(s), replacing the default ports when set. */
  portParams?: string[];
  state?: (p: Params) => ServiceState;
}

/**
 * Port → service, and how each service's configured state is read (reference §3.5, §5 ports). One line per
 * service: `name tcp-ports udp-ports param port-params`, lists comma-separated, `-` for none (no parameter is
 * known for Telnet); as a literal array of objects it cost ~150 more bytes of the bundle.
 */
const SERVICE_TABLE = `ssh 22 - Network.SSH.Enabled -
ftp 21 - Network.FTP.Enabled -
telnet 23 - - -
http 80 - - System.BoaPort,System.AlternateBoaPort
https 443 - HTTPS.Enabled HTTPS.Port
rtsp 554 - Network.RTSP.Enabled Network.RTSP.Port
rtsps 322 - Network.RTSPS.Enabled -
snmp - 161 SNMP.Enabled -
upnp 49152 1900 Network.UPnP.Enabled -
bonjour - 5353 Network.Bonjour.Enabled -
ws-discovery - 3702 WebService.DiscoveryMode.Discoverable -
ntp - 123 - -
sip 5060,5061 5060 - -
dhcp - 68,546 - -`;

/** Services whose state is not one yes/no parameter. */
const STATE_OF: Record<string, (p: Params) => ServiceState> = {
  http: httpState,
  ntp: (p) => (p.has('Time.SyncSource') ? (isNtp(p) ? 'on' : 'off') : 'unknown'),
};

export const SERVICES: ServiceDef[] = SERVICE_TABLE.split('\n').map((line) => {
  const [name, tcp, udp, param, portParams] = line.split(' ').map((f) => (f === '-' ? undefined : f));
  const ports = (list?: string) => list?.split(',').map(Number);
  return { name: name as string, tcp: ports(tcp), udp: ports(udp), param, portParams: portParams?.split(','), state: STATE_OF[name as string] };
});

const BOA_POLICIES = ['admin', 'operator', 'viewer'].map((r) => `System.BoaGroupPolicy.${r}`);

/** yes/no, true/false, on/off, 1/0; null for anything else or a missing parameter. */
export const flag = (v: string | undefined): boolean | null => {
  if (v === undefined) return null;
  if (/^\s*(yes|true|on|1|enabled)\s*$/i.test(v)) return true;
  if (/^\s*(no|false|off|0|disabled)\s*$/i.test(v)) return false;
  return null;
};

function httpState(p: Params): ServiceState {
  const set = BOA_POLICIES.filter((k) => p.has(k));
  if (!set.length) return 'unknown';
  return set.every((k) => p.get(k) === 'https') ? 'off' : 'on';
}

const isNtp = (p: Params) => /^ntp$/i.test(p.get('Time.SyncSource') ?? '');

/** What the rules look at; short names of the services collector's own (mangled). */
interface Facts {
  paramMap: Params;
  entryMap: Map<string, ServiceEntry>;
  unsignedOk: Maybe<boolean>;
}

interface Rule {
  id: string;
  control: string;
  severity: Severity;
  summary: string;
  /** The evidence when the finding applies; null when it does not or the facts are unknown. */
  check: (f: Facts) => string[] | null;
}

const described = (p: Params, names: string[]) => names.filter((n) => p.has(n)).map((n) => `${n}=${p.get(n)}`);
const orNull = (ev: string[]) => (ev.length ? ev : null);

/** A service is a finding when its parameter says on, or when something listens on its ports beyond loopback. */
const serviceOn =
  (name: string) =>
  (f: Facts): string[] | null => {
    const e = f.entryMap.get(name);
    if (!e) return null;
    const def = SERVICES.find((d) => d.name === name);
    const ev = e.configured === 'on' && def?.param ? described(f.paramMap, [def.param]) : [];
    for (const s of e.listening) if (!isLoopback(s.address)) ev.push(`listening ${s.proto} ${s.address}:${s.port}`);
    return orNull(ev);
  };

const paramIs =
  (name: string, want: boolean) =>
  (f: Facts): string[] | null =>
    flag(f.paramMap.get(name)) === want ? described(f.paramMap, [name]) : null;

/** A rule from its fields in order: positional, because 14 object literals repeating five keys cost ~400 bytes. */
const rule = (id: string, control: string, severity: Severity, summary: string, check: Rule['check']): Rule => ({ id, control, severity, summary, check });

/** Hardening rules (reference §5), evaluated in order: rule(id, control, severity, summary, check). */
export const RULES: Rule[] = [
  rule('ssh-enabled', 'B14', 'medium', 'SSH is enabled', serviceOn('ssh')),
  rule('ftp-enabled', 'E1', 'high', 'FTP server is enabled (cleartext credentials)', serviceOn('ftp')),
  rule('telnet-listening', 'E1', 'high', 'Telnet is listening', serviceOn('telnet')),
  rule('snmp-v1-v2c', 'E5', 'high', 'SNMP v1/v2c is enabled (community strings in cleartext); use v3 only or turn SNMP off', (f) => {
    const p = f.paramMap;
    const on = flag(p.get('SNMP.Enabled')) === true || !!serviceOn('snmp')(f);
    const versions = ['SNMP.V1', 'SNMP.V2c'].filter((n) => flag(p.get(n)) === true);
    return on && versions.length ? described(p, ['SNMP.Enabled', ...versions]) : null;
  }),
  rule('upnp-enabled', 'B10', 'medium', 'UPnP/SSDP discovery is on', serviceOn('upnp')),
  rule('bonjour-enabled', 'B10', 'low', 'Bonjour (mDNS) discovery is on', serviceOn('bonjour')),
  rule('ws-discovery-enabled', 'B10', 'low', 'WS-Discovery is on', serviceOn('ws-discovery')),
  rule('http-without-https-only', 'Legacy', 'medium', 'HTTP is allowed; HTTPS is not enforced', (f) => {
    const p = f.paramMap;
    const ev = described(p, BOA_POLICIES.filter((k) => p.has(k) && p.get(k) !== 'https'));
    if (flag(p.get('HTTPS.Enabled')) === false) ev.push(...described(p, ['HTTPS.Enabled']));
    return orNull(ev);
  }),
  rule(
    'basic-auth',
    'Legacy',
    'medium',
    'HTTP Basic authentication is allowed; use digest or stronger',
    (f) => (/basic/i.test(f.paramMap.get('Network.HTTP.AuthenticationPolicy') ?? '') ? described(f.paramMap, ['Network.HTTP.AuthenticationPolicy']) : null),
  ),
  rule('ntp-not-configured', 'B6', 'medium', 'Time is not synchronised with NTP', (f) => {
    const p = f.paramMap;
    if (!p.has('Time.SyncSource')) return null;
    if (!isNtp(p)) return described(p, ['Time.SyncSource']);
    const server = p.get('Time.NTP.Server');
    const dhcp = flag(p.get('Time.ObtainFromDHCP'));
    // NTP selected but no server to ask: only when both facts are known. 0.0.0.0 is the factory value for none.
    return server !== undefined && !server.split(',').some((s) => s.trim() && s.trim() !== '0.0.0.0') && dhcp === false
      ? described(p, ['Time.SyncSource', 'Time.NTP.Server', 'Time.ObtainFromDHCP'])
      : null;
  }),
  rule('dot1x-off', 'Default', 'low', 'IEEE 802.1X is off', paramIs('Network.Interface.I0.dot1x.Enabled', false)),
  rule('ip-filter-off', 'B20', 'medium', 'The IP address filter is off', paramIs('Network.Filter.Enabled', false)),
  rule('unsigned-apps-allowed', 'B8', 'high', 'Unsigned ACAP applications may be installed', (f) => (f.unsignedOk === true ? ['AllowUnsigned=true'] : null)),
];

/** The report's services part when nothing could be read (the agent's fallback too). */
export const noServices = (): ServicesReport => ({ entries: [], findings: [], totalListening: 0 });

export const collectServices = (ctx: CollectorContext, input: ServicesInput = {}): Promise<CollectorResult<ServicesReport>> => {
  return runCollector(
    'services',
    noServices,
    async (guard, errors) => {
      const [list, socks, allowUnsigned] = await Promise.all([
        guard('param.cgi', ctx.vapixApi.listParams(SERVICE_PARAM_GROUPS)),
        readListeningSockets(ctx.host, ctx.agentConf.procNetDir),
        input.unsignedAllowed !== undefined
          ? input.unsignedAllowed
          : guard(APPS_CONFIG_CGI, ctx.vapixApi.unsignedAllowed()),
      ]);
      errors.push(...socks.errors);
      if (list?.groupErrors.length) {
        errors.push(collectorError('services', 'ENOPARAM', `param.cgi has no group ${list.groupErrors.join(', ')}`));
      }
      return evaluateServices(list?.params ?? new Map(), socks.sockets, allowUnsigned ?? null);
    },
  );
};

/** Merges parameters and sockets into entries and evaluates the rules; pure, for tests and the simulator. */
export const evaluateServices = (params: Params, sockets: ListeningSocket[], allowUnsigned: Maybe<boolean>): ServicesReport => {
  const entries = new Map<string, ServiceEntry>();
  const claimed = new Set<ListeningSocket>();
  for (const def of SERVICES) {
    const ports = (def.portParams ?? []).map((n) => Number(params.get(n))).filter((n) => n > 0 && n < 65536 && n % 1 === 0);
    const tcp = ports.length ? ports : (def.tcp ?? []);
    const udp = def.udp ?? [];
    const listening = sockets.filter((s) => (s.proto[0] === 't' ? tcp : udp).indexOf(s.port) >= 0);
    listening.forEach((s) => claimed.add(s));
    const p = def.param ? flag(params.get(def.param)) : null;
    const configured: ServiceState = def.state ? def.state(params) : p === null ? 'unknown' : p ? 'on' : 'off';
    if (configured !== 'unknown' || listening.length) entries.set(def.name, { name: def.name, configured, listening });
  }
  const unknown = sockets
    .filter((s) => !claimed.has(s))
    .sort((a, b) => a.proto.localeCompare(b.proto) || a.port - b.port);
  for (const s of unknown) {
    const name = `${s.proto.replace('6', '')}/${s.port}`;
    const e = entries.get(name) ?? { name, configured: 'unknown' as const, listening: [] };
    e.listening.push(s);
    entries.set(name, e);
  }
  const facts: Facts = { paramMap: params, entryMap: entries, unsignedOk: allowUnsigned };
  const findings: Finding[] = [];
  for (const r of RULES) {
    const evidence = r.check(facts);
    // report schema limits: 32 evidence strings of 256 characters, 256 sockets per entry, 512 entries
    if (evidence) {
      const { id, control, severity, summary } = r;
      findings.push({ id, control, severity, summary, evidence: evidence.slice(0, 32).map((e) => e.slice(0, 256)) });
    }
  }
  const list = [...entries.values()].slice(0, 512);
  for (const e of list) e.listening = e.listening.slice(0, 256);
  return { entries: list, findings, totalListening: sockets.length };
};
