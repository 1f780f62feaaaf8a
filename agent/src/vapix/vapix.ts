/**
 * Typed local VAPIX calls (reference axis-os.md §3). Every answer is checked by hand: a wrong type or
 * shape becomes a clear EVAPIX error, never a crash further down.
 */
import type { AgentConfig } from '../config';
import type { Host, VapixCredentials } from '../host';
import type { AppInfo } from '../report/types';
import { errorCode, errorMessage, quote, VigilError } from '../util/errors';
import { bodyText, type HttpResponse, httpRequest } from './http';

/** basicdeviceinfo.cgi propertyList; every property optional, all strings. */
export type DeviceProperties = Partial<Record<DeviceProperty, string>>;
type DeviceProperty = 'Architecture' | 'Brand' | 'BuildDate' | 'HardwareID' | 'ProdFullName' | 'ProdNbr' | 'ProdShortName' | 'ProdType' | 'SerialNumber' | 'Soc' | 'Version';
const DEVICE_PROPERTIES = 'Architecture Brand BuildDate HardwareID ProdFullName ProdNbr ProdShortName ProdType SerialNumber Soc Version'.split(' ') as DeviceProperty[];

/**
 * firmwaremanagement.cgi status data. Short names of the agent's own (mangled in the bundle), each from the VAPIX
 * field in its comment.
 */
export interface FirmwareStatus {
  /** activeFirmwareVersion */
  fwActive?: string;
  /** activeFirmwarePart */
  fwPart?: string;
  /** inactiveFirmwareVersion: absent without an inactive firmware; may be "UNKNOWN". */
  fwInactive?: string;
  /** isCommited (sic), or isCommitted */
  fwCommited?: boolean;
  /** pendingCommit: "started" while an upgrade waits for commit. */
  fwPending?: string | boolean;
  /** timeToRollback, seconds */
  fwRollback?: number;
  /** lastUpgradeAt */
  fwUpgradeAt?: string;
}

export interface ParamList {
  /** Names without the `root.` prefix, e.g. `Network.SSH.Enabled`. */
  params: Map<string, string>;
  /** Groups the device said it could not list (`# Error: … in group 'X'`). */
  groupErrors: string[];
}

export interface VapixOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Basic-auth credentials; see resolveVapixCredentials. */
  credentials?: VapixCredentials | null;
}

/** The application CGIs, also the names collectors give their errors (one string each in the bundle). */
export const APPS_LIST_CGI = 'applications/list.cgi';
export const APPS_CONFIG_CGI = 'applications/config.cgi';

const fail = (message: string, code = 'EVAPIX') => new VigilError('vapix', code, message);
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Credentials for local VAPIX: the host's (D-Bus GetCredentials, AXIS OS ≥ 11.9) first, else the
 * configured VapixUsername/VapixPassword; null when there are none. Keep them in memory only.
 */
export const resolveVapixCredentials = async (host: Host, config: AgentConfig): Promise<VapixCredentials | null> => {
  const { username, password } = config.vapixConf;
  if (host.vapixCredentials) {
    try {
      const c = await host.vapixCredentials();
      if (c && typeof c.username === 'string' && typeof c.password === 'string') return c;
      throw fail('host returned credentials of the wrong shape', 'EINVAL');
    } catch (err) {
      if (!username) throw fail(`cannot get VAPIX credentials: ${errorMessage(err)}`, errorCode(err));
    }
  }
  return username ? { username, password: password ?? '' } : null;
};

/** Local VAPIX (http://127.0.0.12/axis-cgi/…): one HTTP request per call, answers checked by hand. */
export interface VapixClient {
  basicDeviceInfo(): Promise<DeviceProperties>;
  firmwareStatus(): Promise<FirmwareStatus>;
  listApplications(): Promise<AppInfo[]>;
  /** AllowUnsigned from applications/config.cgi; null when the device lacks the switch (404, before AXIS OS 11.2). */
  unsignedAllowed(): Promise<boolean | null>;
  /** param.cgi action=list for the groups (e.g. `Network`, `Properties.System`). */
  listParams(groups: string[]): Promise<ParamList>;
}

// A factory of closures, not a class, like the MQTT client: it is smaller in the size-budgeted bundle.
export const createVapixClient = (host: Pick<Host, 'net' | 'clock'>, options: VapixOptions): VapixClient => {
  const call = async (method: 'GET' | 'POST', path: string, okStatus?: number, body?: string): Promise<HttpResponse> => {
    const res = await httpRequest(host, options, { method, path, body });
    if (res.status !== okStatus && (res.status < 200 || res.status > 299)) {
      throw fail(`${method} ${path}: HTTP ${res.status} ${res.reason}`.trim(), 'EHTTP');
    }
    return res;
  };

  /** A JSON API call; `where` is `<cgi> <method>`, as error messages name it. */
  const json = async (where: string): Promise<Obj> => {
    const [cgi, method] = where.split(' ');
    const res = await call('POST', `/axis-cgi/${cgi}`, undefined, JSON.stringify({ apiVersion: '1.0', context: 'vigil', method }));
    let doc: unknown;
    try {
      doc = JSON.parse(bodyText(res));
    } catch {
      throw fail(`${where}: answer is not JSON`);
    }
    if (!isObj(doc)) throw fail(`${where}: answer is not a JSON object`);
    if (doc.error !== undefined) {
      const e = isObj(doc.error) ? doc.error : {};
      throw fail(`${where}: device error ${String(e.code ?? '?')} ${String(e.message ?? '')}`.trim());
    }
    if (!isObj(doc.data)) throw fail(`${where}: answer has no "data" object`);
    return doc.data;
  };

  return {
    async basicDeviceInfo() {
      const where = 'basicdeviceinfo.cgi getAllProperties';
      const data = await json(where);
      if (!isObj(data.propertyList)) throw fail(`${where}: answer has no "propertyList" object`);
      const out: DeviceProperties = {};
      for (const key of DEVICE_PROPERTIES) out[key] = field(data.propertyList, key, 'string', where);
      return out;
    },

    async firmwareStatus() {
      const where = 'firmwaremanagement.cgi status';
      const d = await json(where);
      const str = (k: string) => field<string>(d, k, 'string', where);
      let ttr = d.timeToRollback;
      if (typeof ttr === 'string' && /^\d+$/.test(ttr)) ttr = Number(ttr);
      return {
        fwActive: str('activeFirmwareVersion'),
        fwPart: typeof d.activeFirmwarePart === 'number' ? String(d.activeFirmwarePart) : str('activeFirmwarePart'),
        fwInactive: str('inactiveFirmwareVersion'),
        // VAPIX spells it isCommited; isCommitted is accepted too (docs/packaging.md, list.cgi and fwmgr)
        fwCommited: field<boolean>(d, d.isCommited === undefined ? 'isCommitted' : 'isCommited', 'boolean', where),
        fwPending: typeof d.pendingCommit === 'boolean' ? d.pendingCommit : str('pendingCommit'),
        fwRollback: field<number>({ timeToRollback: ttr }, 'timeToRollback', 'number', where),
        fwUpgradeAt: str('lastUpgradeAt'),
      };
    },

    async listApplications() {
      const res = await call('GET', `/axis-cgi/${APPS_LIST_CGI}`);
      const body = parseReply(bodyText(res), APPS_LIST_CGI);
      const apps: AppInfo[] = [];
      for (const tag of startTags(body, 'application')) {
        const a = parseAttributes(tag.attributes);
        if (!a.Name) continue;
        const opt = (k: string) => a[k] ?? null;
        apps.push({
          name: a.Name,
          niceName: opt('NiceName'),
          vendor: opt('Vendor'),
          version: opt('Version'),
          status: opt('Status'),
          // Axis's list.cgi schema documents no signature attribute: SignatureStatus is what cameras send,
          // SignedStatus is accepted too (docs/packaging.md)
          signatureStatus: a.SignatureStatus ?? opt('SignedStatus'),
          applicationId: opt('ApplicationID'),
          license: opt('License'),
          vendorHomePage: opt('VendorHomePage'),
        });
      }
      return apps;
    },

    async unsignedAllowed() {
      const res = await call('GET', `/axis-cgi/${APPS_CONFIG_CGI}?action=get&name=AllowUnsigned`, 404);
      if (res.status === 404) return null;
      const where = `${APPS_CONFIG_CGI} AllowUnsigned`;
      const body = parseReply(bodyText(res), where);
      for (const tag of startTags(body, 'param')) {
        const a = parseAttributes(tag.attributes);
        if (a.name !== 'AllowUnsigned') continue;
        if (/^(true|yes)$/i.test(a.value ?? '')) return true;
        if (/^(false|no)$/i.test(a.value ?? '')) return false;
        throw fail(`${where}: value ${JSON.stringify(a.value ?? null)} is not true or false`);
      }
      return null;
    },

    async listParams(groups) {
      const query = groups.map(encodeURIComponent).join(',');
      const res = await call('GET', `/axis-cgi/param.cgi?action=list&group=${query}`);
      return parseParamList(bodyText(res));
    },
  };
};

const field = <T>(obj: Obj, key: string, type: 'string' | 'boolean' | 'number', where: string): T | undefined => {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type) {
    throw fail(`${where}: "${key}" should be a ${type}, got ${JSON.stringify(v).slice(0, 40)}`);
  }
  return v as T;
};

/** param.cgi `action=list` text: `root.Group.Name=value` lines, the `root.` prefix optional. */
export const parseParamList = (text: string): ParamList => {
  const params = new Map<string, string>();
  const groupErrors: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line.trim()) continue;
    if (line[0] === '#') {
      // "# Error: Error -1 getting param in group 'X'"; the next line may then lack its root. prefix
      const m = /group '([^']*)'/.exec(line);
      if (m) groupErrors.push(m[1]);
      continue;
    }
    const eq = line.indexOf('=');
    const name = line.slice(0, eq).trim().replace(/^root\./, '');
    if (eq <= 0 || !/^[\w.-]+$/.test(name)) {
      throw fail(`param.cgi: line ${i + 1} is not name=value: ${quote(line, 60)}`);
    }
    params.set(name, line.slice(eq + 1));
  }
  return { params, groupErrors };
};

export interface StartTag {
  /** The text between the name and the closing `>` (a `/` of an empty-element tag included). */
  attributes: string;
  /** Offsets of `<` and just past `>`. */
  start: number;
  end: number;
}

/**
 * The start tags `<name …>` of an XML text, in order, in one linear pass: a quoted attribute value may hold
 * `>`; a quote that never closes ends the scan (nothing after it can be told apart from the value).
 * Replaces a backtracking regular expression that took quadratic time on unclosed quotes (ROBUSTNESS.md,
 * "vapix-xml-unclosed-quote-quadratic").
 */
export function* startTags(xml: string, name: string): Generator<StartTag> {
  const open = '<' + name;
  let from = 0;
  for (;;) {
    const start = xml.indexOf(open, from);
    if (start < 0) return;
    let i = start + open.length;
    if (i < xml.length && /[\w]/.test(xml[i])) {
      from = i; // a longer name (<applications>), not this tag
      continue;
    }
    for (;;) {
      if (i >= xml.length) return;
      const c = xml[i];
      if (c === '>') break;
      if (c === '"' || c === "'") {
        const close = xml.indexOf(c, i + 1);
        if (close < 0) return;
        i = close + 1;
      } else i++;
    }
    yield { attributes: xml.slice(start + open.length, i), start, end: i + 1 };
    from = i + 1;
  }
}

/** Checks `<reply result="ok">` and returns what follows it; a `result="error"` reply becomes an error. */
export const parseReply = (xml: string, where: string): string => {
  const m = startTags(xml, 'reply').next();
  if (m.done) throw fail(`${where}: answer is not a VAPIX XML reply`);
  const rest = xml.slice(m.value.end);
  const result = parseAttributes(m.value.attributes).result;
  if (result !== 'ok') {
    const detail = rest.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 100);
    throw fail(`${where}: device replied result=${JSON.stringify(result ?? null)}${detail ? ': ' + detail : ''}`);
  }
  return rest;
};

/**
 * Attributes of a start tag, in any order, single or double quoted, entities decoded. One linear pass (a
 * regular expression here took quadratic time on long unquoted runs: ROBUSTNESS.md,
 * "vapix-xml-attribute-run-quadratic"); a quote that never closes ends the attributes.
 */
export const parseAttributes = (text: string): Record<string, string> => {
  const out: Record<string, string> = Object.create(null);
  const n = text.length;
  const space = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (space(c) || c === '=' || c === '/' || c === '"' || c === "'") {
      i++;
      continue;
    }
    let j = i;
    while (j < n && !space(text[j]) && text[j] !== '=' && text[j] !== '/') j++;
    let k = j;
    while (space(text[k])) k++;
    if (text[k] !== '=') {
      i = k > j ? k : j;
      continue;
    }
    k++;
    while (space(text[k])) k++;
    const q = text[k];
    if (q !== '"' && q !== "'") {
      i = k;
      continue;
    }
    const close = text.indexOf(q, k + 1);
    if (close < 0) break;
    out[text.slice(i, j)] = decodeEntities(text.slice(k + 1, close));
    i = close + 1;
  }
  return out;
};

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export const decodeEntities = (s: string): string => {
  return s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (all, e: string) => {
    // own names only: `&constructor;` is not an entity (ROBUSTNESS.md, "vapix-xml-entity-named-like-object-member")
    if (e[0] !== '#') return Object.hasOwn(ENTITIES, e) ? ENTITIES[e] : all;
    const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1));
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
  });
};
