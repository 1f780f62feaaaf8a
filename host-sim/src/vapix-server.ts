/**
 * A simulated VAPIX on 127.0.0.1 answering from a device profile (formats: reference axis-os.md §3):
 *   POST /axis-cgi/basicdeviceinfo.cgi            JSON getAllProperties / getAllUnrestrictedProperties / getSupportedVersions
 *   POST /axis-cgi/firmwaremanagement.cgi         JSON status / getSupportedVersions
 *   GET  /axis-cgi/applications/list.cgi          XML <reply result="ok"><application …/></reply>
 *   GET  /axis-cgi/applications/config.cgi?action=get&name=AllowUnsigned
 *   GET|POST /axis-cgi/param.cgi?action=list&group=A,B   text root.Group.Name=value lines (param-cgi.ts), the
 *            app's own group root.vigil.* included; action=update&root.vigil.X=Y changes the app's settings
 * Everything else is 404. Every request needs HTTP Basic credentials (a VAPIX service account).
 *
 * Faults are rules ({mode, paths?, delayMs?}) looked up per request through a FaultSource, so a timed
 * script can swap them (setFaults) without touching the handlers. Only static rules exist today.
 * A script can also set parameters over the profile's (setParam: `param:Network.SSH.Enabled=yes@30`).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Profile, VapixFault } from './profiles';
import { vapixFaults } from './profiles';
import { AppSettings, PARAM_CGI_TYPE, paramCgi } from './param-cgi';

export { AppSettings, PARAM_CGI_TYPE, paramList, type AppParam } from './param-cgi';

export interface FaultSource {
  /** The fault for this request path (no query), or null. */
  faultFor(path: string): VapixFault | null;
}

export function staticFaults(rules: VapixFault[]): FaultSource {
  return {
    faultFor(path) {
      for (const r of rules) if (!r.paths || r.paths.length === 0 || r.paths.includes(path)) return r;
      return null;
    },
  };
}

export interface VapixServerOptions {
  profile: Profile;
  /** Default 0: an ephemeral port. */
  port?: number;
  host?: string;
  /** Overrides the profile's faults. */
  faults?: FaultSource;
  /** param.cgi parameters over the profile's (set by an earlier fault script, kept across restarts). */
  params?: Record<string, string>;
  /** The app's settings on this camera (root.vigil.*): manifest.json's defaults and these values by default. */
  app?: AppSettings;
}

export interface VapixRequestRecord {
  method: string;
  path: string;
  status: number;
  fault: VapixFault['mode'] | null;
}

const BASIC_DEVICE_INFO_API = '1.3';
const FIRMWARE_API = '1.0';
const DEFAULT_SLOW_MS = 3000;

export class VapixServer {
  readonly profile: Profile;
  readonly requests: VapixRequestRecord[] = [];
  private server: http.Server | null = null;
  private faults: FaultSource;
  private readonly hung = new Set<http.ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly options: VapixServerOptions;
  private readonly params = new Map<string, string>();
  /** The app's settings page (root.vigil.*): what param.cgi lists and an admin's update changes. */
  readonly app: AppSettings;
  port = 0;
  host = '127.0.0.1';

  constructor(options: VapixServerOptions) {
    this.options = options;
    this.profile = options.profile;
    this.faults = options.faults ?? staticFaults(vapixFaults(options.profile));
    for (const [k, v] of Object.entries(options.params ?? {})) this.params.set(k, v);
    this.app = options.app ?? new AppSettings();
  }

  /** Sets a parameter param.cgi answers over the profile's; null goes back to the profile's (or none). */
  setParam(name: string, value: string | null): void {
    if (value === null) this.params.delete(name);
    else this.params.set(name, value);
  }

  /** The value set over the profile's for this parameter, or null. */
  paramOverride(name: string): string | null {
    return this.params.get(name) ?? null;
  }

  /** Every parameter set over the profile's. */
  paramOverrides(): Record<string, string> {
    return Object.fromEntries(this.params);
  }

  /** Replaces the fault rules (a timed script calls this as its clock advances). */
  setFaults(source: FaultSource | VapixFault[]): void {
    this.faults = Array.isArray(source) ? staticFaults(source) : source;
  }

  private httpServer(): http.Server {
    if (!this.server) {
      this.server = http.createServer((req, res) => this.handle(req, res));
      this.server.keepAliveTimeout = 5000;
    }
    return this.server;
  }

  /** Serves on a listener shared with other cameras (vapix-listener.ts) instead of one of its own. */
  attach(shared: { host: string; port: number }): number {
    this.host = shared.host;
    this.port = shared.port;
    return this.port;
  }

  /** Serves one connection the shared listener accepted for this camera. */
  accept(socket: Socket): void {
    const server = this.httpServer();
    server.emit('connection', socket);
    socket.resume();
  }

  async listen(): Promise<number> {
    this.host = this.options.host ?? '127.0.0.1';
    const server = this.httpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://camera');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const record: VapixRequestRecord = { method: req.method ?? 'GET', path: url.pathname, status: 0, fault: null };
      this.requests.push(record);
      if (!this.authorized(req)) {
        record.status = 401;
        send(res, 401, 'text/html', '<HTML><HEAD><TITLE>401 Unauthorized</TITLE></HEAD><BODY><H1>401 Unauthorized</H1>\nYour client does not have permission to get URL ' + url.pathname + ' from this server.\n</BODY></HTML>\n', {
          'WWW-Authenticate': `Basic realm="AXIS_${this.profile.identity.serialNumber}"`,
        });
        return;
      }
      const fault = this.faults.faultFor(url.pathname);
      const answer = () => {
        const a = this.route(req.method ?? 'GET', url, body);
        record.status = a.status;
        send(res, a.status, a.type, a.body);
      };
      if (!fault) return answer();
      record.fault = fault.mode;
      switch (fault.mode) {
        case 'hang':
          // Headers never come; the connection stays open until the client gives up or we close.
          this.hung.add(res);
          res.on('close', () => this.hung.delete(res));
          return;
        case 'slow':
          this.later(fault.delayMs ?? DEFAULT_SLOW_MS, answer);
          return;
        case 'status500':
          record.status = 500;
          this.later(fault.delayMs ?? 0, () => send(res, 500, 'text/html', '<HTML><HEAD><TITLE>500 Internal Server Error</TITLE></HEAD><BODY><H1>500 Internal Server Error</H1></BODY></HTML>\n'));
          return;
        case 'garbage':
          record.status = 200;
          this.later(fault.delayMs ?? 0, () => send(res, 200, contentTypeFor(url.pathname), garbageFor(url.pathname)));
          return;
      }
    });
  }

  private authorized(req: http.IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (!h || !/^Basic /i.test(h)) return false;
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    const c = this.profile.vapix.credentials;
    return decoded.slice(0, i) === c.username && decoded.slice(i + 1) === c.password;
  }

  private route(method: string, url: URL, body: string): { status: number; type: string; body: string } {
    switch (url.pathname) {
      case '/axis-cgi/basicdeviceinfo.cgi':
        if (method !== 'POST') return methodNotAllowed();
        return json(basicDeviceInfo(this.profile, body));
      case '/axis-cgi/firmwaremanagement.cgi':
        if (method !== 'POST') return methodNotAllowed();
        return json(firmwareManagement(this.profile, body));
      case '/axis-cgi/applications/list.cgi':
        return { status: 200, type: 'text/xml', body: applicationsList(this.profile) };
      case '/axis-cgi/applications/config.cgi':
        return applicationsConfig(this.profile, formParams(url, method, body));
      case '/axis-cgi/param.cgi':
        return paramCgi(this.profile, formParams(url, method, body), this.paramOverrides(), this.app);
      default:
        return { status: 404, type: 'text/html', body: '<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD><BODY><H1>404 Not Found</H1></BODY></HTML>\n' };
    }
  }
}


function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  // The body in the charset its type declares; a character ISO-8859-1 lacks becomes '?', as a camera's would.
  const bytes = /charset=iso-8859-1/i.test(type) ? Buffer.from(body.replace(/[^\u0000-\u00ff]/g, '?'), 'latin1') : Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.length), ...headers });
  res.end(bytes);
}

function methodNotAllowed() {
  return { status: 405, type: 'text/plain', body: 'Method Not Allowed\n' };
}

function json(value: unknown) {
  return { status: 200, type: 'application/json', body: JSON.stringify(value) };
}

function formParams(url: URL, method: string, body: string): URLSearchParams {
  const p = new URLSearchParams(url.search);
  if (method === 'POST' && body && !body.trimStart().startsWith('{')) for (const [k, v] of new URLSearchParams(body)) p.append(k, v);
  return p;
}

function contentTypeFor(pathname: string): string {
  if (pathname.endsWith('basicdeviceinfo.cgi') || pathname.endsWith('firmwaremanagement.cgi')) return 'application/json';
  if (pathname.includes('/applications/')) return 'text/xml';
  return pathname.endsWith('/param.cgi') ? PARAM_CGI_TYPE : 'text/plain';
}

/** A 200 body that is not what the client expects: truncated JSON, broken XML, binary noise. */
function garbageFor(pathname: string): string {
  if (contentTypeFor(pathname) === 'application/json') return '{"apiVersion":"1.3","data":{"propertyList":{"Version":"12.';
  if (contentTypeFor(pathname) === 'text/xml') return '<reply result="ok"><application Name="x" Vers\u0000\u0007\ufffd';
  return '\u0000\u0001garbage\ufffd\ufffd root.Network=\n=no\n';
}

interface JsonRequest {
  apiVersion?: unknown;
  context?: unknown;
  method?: unknown;
  params?: unknown;
}

function parseJsonRequest(body: string): JsonRequest | null {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonRequest) : null;
  } catch {
    return null;
  }
}

function withContext(req: JsonRequest | null, apiVersion: string, rest: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { apiVersion };
  if (req && typeof req.context === 'string') out.context = req.context;
  return { ...out, ...rest };
}

export function basicDeviceInfo(profile: Profile, body: string): Record<string, unknown> {
  const req = parseJsonRequest(body);
  if (!req) return { apiVersion: BASIC_DEVICE_INFO_API, error: { code: 4002, message: 'Invalid JSON' } };
  const id = profile.identity;
  const all: Record<string, string> = {
    Architecture: id.architecture,
    Brand: id.brand,
    BuildDate: profile.os.buildDate,
    HardwareID: id.hardwareId,
    ProdFullName: id.prodFullName,
    ProdNbr: id.prodNbr,
    ProdShortName: id.prodShortName,
    ProdType: id.prodType,
    ProdVariant: id.prodVariant ?? '',
    SerialNumber: id.serialNumber,
    Soc: id.soc,
    SocSerialNumber: id.socSerialNumber ?? '',
    Version: profile.os.version,
    WebURL: id.webUrl ?? 'http://www.axis.com',
  };
  switch (req.method) {
    case 'getAllProperties':
      return withContext(req, BASIC_DEVICE_INFO_API, { data: { propertyList: all } });
    case 'getAllUnrestrictedProperties': {
      const { Architecture: _a, Soc: _s, SocSerialNumber: _n, ...open } = all;
      return withContext(req, BASIC_DEVICE_INFO_API, { data: { propertyList: open } });
    }
    case 'getProperties': {
      const wanted = (req.params as { propertyList?: unknown } | undefined)?.propertyList;
      if (!Array.isArray(wanted)) return withContext(req, BASIC_DEVICE_INFO_API, { error: { code: 4002, message: 'Missing propertyList' } });
      const missing = wanted.find((w) => typeof w !== 'string' || !(w in all));
      if (missing !== undefined) return withContext(req, BASIC_DEVICE_INFO_API, { error: { code: 1000, message: 'Property not supported' } });
      const picked: Record<string, string> = {};
      for (const w of wanted as string[]) picked[w] = all[w];
      return withContext(req, BASIC_DEVICE_INFO_API, { data: { propertyList: picked } });
    }
    case 'getSupportedVersions':
      return withContext(req, BASIC_DEVICE_INFO_API, { data: { apiVersions: ['1.0', '1.1', '1.2', '1.3'] } });
    default:
      return withContext(req, BASIC_DEVICE_INFO_API, { error: { code: 4001, message: 'Method not supported' } });
  }
}

export function firmwareManagement(profile: Profile, body: string): Record<string, unknown> {
  const req = parseJsonRequest(body);
  const api = profile.firmware.apiVersion ?? FIRMWARE_API;
  if (!req) return { apiVersion: api, error: { code: 400, message: 'Invalid JSON' } };
  switch (req.method) {
    case 'status': {
      const f = profile.firmware;
      const data: Record<string, unknown> = { activeFirmwareVersion: profile.os.version };
      if (f.activeFirmwarePart !== undefined) data.activeFirmwarePart = f.activeFirmwarePart;
      if (f.inactiveFirmwareVersion !== undefined) {
        data.inactiveFirmwareVersion = f.inactiveFirmwareVersion;
        if (f.isCommited !== undefined) data.isCommited = f.isCommited;
        if (f.lastUpgradeAt !== undefined) data.lastUpgradeAt = f.lastUpgradeAt;
      }
      if (f.pendingCommit !== undefined) data.pendingCommit = f.pendingCommit;
      if (f.timeToRollback !== undefined) data.timeToRollback = f.timeToRollback;
      return withContext(req, api, { method: 'status', data });
    }
    case 'getSupportedVersions':
      return withContext(req, api, { method: 'getSupportedVersions', data: { apiVersions: [api] } });
    default:
      return withContext(req, api, { method: typeof req.method === 'string' ? req.method : undefined, error: { code: 400, message: 'Method not supported' } });
  }
}

function xmlAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * applications/list.cgi as an AXIS OS 12 camera answers: one `<application …/>` per line, the attributes in
 * the order of Axis's documented example (ApplicationID, License, ConfigurationPage, VendorHomePage,
 * LicenseName), then SignatureStatus, which cameras add though Axis's schema does not name it.
 */
export function applicationsList(profile: Profile): string {
  const apps = profile.applications.installed.map((a) => {
    const attrs: Array<[string, string | undefined]> = [
      ['Name', a.name],
      ['NiceName', a.niceName],
      ['Vendor', a.vendor],
      ['Version', a.version],
      ['ApplicationID', a.applicationId ?? ''],
      ['License', a.license ?? 'None'],
      ['LicenseExpirationDate', a.licenseExpirationDate],
      ['Status', a.status],
      ['ConfigurationPage', a.configurationPage ?? ''],
      ['VendorHomePage', a.vendorHomePage ?? ''],
      ['LicenseName', 'Available'],
      ['SignatureStatus', a.signatureStatus],
    ];
    return ' <application ' + attrs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}="${xmlAttr(v as string)}"`).join(' ') + ' />\n';
  });
  return `<reply result="ok">\n${apps.join('')}</reply>\n`;
}

function applicationsConfig(profile: Profile, q: URLSearchParams) {
  const allow = profile.applications.allowUnsigned;
  if (allow === undefined) return { status: 404, type: 'text/html', body: '<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD><BODY><H1>404 Not Found</H1></BODY></HTML>\n' };
  if (q.get('action') !== 'get' || q.get('name') !== 'AllowUnsigned') {
    return { status: 200, type: 'text/xml', body: '<reply result="error"><error type="1" message="Invalid parameter"/></reply>' };
  }
  return { status: 200, type: 'text/xml', body: `<reply result="ok"><param name="AllowUnsigned" value="${allow ? 'true' : 'false'}"/></reply>` };
}
