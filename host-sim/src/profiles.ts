/**
 * Device profiles: host-sim/profiles/<name>/{profile.json, rootfs/, localdata/?}, validated against
 * schemas/profile.schema.json. An invalid profile is an error that names the file and the JSON path.
 */
import { closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { schemaValidator } from '../../schemas/validator';
import type { FaultStep } from './faults';

export type VapixFaultMode = 'garbage' | 'status500' | 'slow' | 'hang';

export interface VapixFault {
  mode: VapixFaultMode;
  /** Request paths (no query) the rule applies to; every path when absent. */
  paths?: string[];
  delayMs?: number;
}

export interface ProfileApp {
  name: string;
  niceName: string;
  vendor: string;
  version: string;
  status: 'Running' | 'Stopped' | 'Idle';
  license?: string;
  applicationId?: string;
  /** YYYY-MM-DD, for a license that expires. */
  licenseExpirationDate?: string;
  configurationPage?: string;
  vendorHomePage?: string;
  signatureStatus?: string;
}

export interface Profile {
  $schema?: string;
  name: string;
  description: string;
  identity: {
    serialNumber: string;
    prodNbr: string;
    prodFullName: string;
    prodShortName: string;
    prodVariant?: string;
    brand: string;
    prodType: string;
    hardwareId: string;
    soc: string;
    socSerialNumber?: string;
    architecture: 'armv7hf' | 'aarch64' | 'mips' | 'crisv32';
    webUrl?: string;
  };
  os: { version: string; buildDate: string };
  firmware: {
    apiVersion?: string;
    activeFirmwarePart?: string;
    inactiveFirmwareVersion?: string;
    isCommited?: boolean;
    lastUpgradeAt?: string;
    pendingCommit?: string;
    timeToRollback?: number;
  };
  vapix: { credentials: { username: string; password: string } };
  params: Record<string, string>;
  applications: { allowUnsigned?: boolean; installed: ProfileApp[] };
  platform: { signedOs: boolean | null; secureBoot: boolean | null; edgeVault: boolean | null };
  agent: Record<string, string>;
  faults?: { vapix?: VapixFault | VapixFault[]; script?: FaultStep[] };
}

export interface LoadedProfile {
  name: string;
  /** The profile folder. */
  dir: string;
  /** profile.json. */
  file: string;
  rootfsDir: string;
  /** Seeds the data dir on first start, when present. */
  localdataDir: string | null;
  data: Profile;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROFILES_DIR = path.resolve(here, '../profiles');
export const PROFILE_SCHEMA_FILE = path.resolve(here, '../../schemas/profile.schema.json');

/** Every violation (allErrors): the error names each bad JSON path in the profile. */
const profileValidator = () => schemaValidator('profile.schema.json', { allErrors: true });

export class ProfileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    // A broken profile can report thousands of problems (one per bad key); the first few say enough.
    const shown = problems.length > MAX_PROBLEMS ? [...problems.slice(0, MAX_PROBLEMS), `and ${problems.length - MAX_PROBLEMS} more`] : problems;
    const text = shown.join('; ');
    super(`[vigil] [profiles] profile "${printable(path.basename(path.dirname(file)))}" at ${printable(file, 500)}: ${text.length > 4000 ? `${text.slice(0, 4000).replace(/[\ud800-\udbff]$/, '')}…` : text}`);
    this.name = 'ProfileError';
  }
}

const MAX_PROBLEMS = 20;
/** profile.json is a few KB; anything this big is not a profile (and must not be read whole). */
export const PROFILE_MAX_BYTES = 1024 * 1024;

/** Text from the file, safe to print: control characters escaped, lone surrogates replaced, cut to `max`. */
function printable(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function describe(e: ErrorObject): string {
  const at = printable(e.instancePath || '/', 120);
  if (e.keyword === 'additionalProperties') return `${at}: unknown property "${printable((e.params as { additionalProperty: string }).additionalProperty)}"`;
  // propertyNames: ajv reports the key's own failure with propertyName set (and a vaguer summary, dropped).
  if (e.propertyName !== undefined) return `${at}: bad property name "${printable(e.propertyName)}": ${e.message}`;
  if (e.keyword === 'enum') return `${at}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${at}: ${e.message}`;
}

/** Validates profile data; throws a ProfileError naming `file` and every bad JSON path. */
export function validateProfile(data: unknown, file: string): Profile {
  const validate = profileValidator();
  if (!validate(data)) {
    // oneOf failures repeat every branch's complaint; keep the clearest ones first and drop duplicates.
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'propertyNames');
    const problems = Array.from(new Set(errors.map(describe)));
    throw new ProfileError(file, problems);
  }
  return data as Profile;
}

/**
 * Reads profile.json as strict UTF-8. Opened non-blocking and checked with fstat on the open file, so a
 * FIFO (which would block the read forever), a device, a folder or a huge file is refused, not read.
 */
function readProfileText(file: string, nameOrDir: string): string {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') {
      throw new ProfileError(file, [`no such profile "${printable(nameOrDir)}" (bundled profiles: ${listProfiles().join(', ')})`]);
    }
    throw new ProfileError(file, [`cannot read profile.json: ${code ?? (err as Error).message}`]);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ProfileError(file, ['profile.json is a folder, not a file']);
    if (!st.isFile()) throw new ProfileError(file, ['profile.json is not a regular file (a FIFO, socket or device?)']);
    if (st.size > PROFILE_MAX_BYTES) throw new ProfileError(file, [`profile.json is ${st.size} bytes, over the limit of ${PROFILE_MAX_BYTES}`]);
    let bytes: Buffer;
    try {
      bytes = readFileSync(fd);
    } catch (err) {
      throw new ProfileError(file, [`cannot read profile.json: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    // The size can change between fstat and read; the limit holds for what was read.
    if (bytes.length > PROFILE_MAX_BYTES) throw new ProfileError(file, [`profile.json is over the limit of ${PROFILE_MAX_BYTES} bytes`]);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ProfileError(file, ['profile.json is not valid UTF-8']);
    }
  } finally {
    closeSync(fd);
  }
}

/** A folder beside profile.json (`rootfs`, `localdata`) when it is one and stays inside the profile folder. */
function innerFolder(dir: string, leaf: string, file: string): string | null {
  const folder = path.join(dir, leaf);
  let st;
  try {
    st = statSync(folder);
  } catch {
    return null;
  }
  if (!st.isDirectory()) return null;
  // A link out of the profile (rootfs -> /) would show the host's own files to the agent, and localdata/
  // is copied whole into the data dir: both must really live inside the profile folder.
  const real = realpathSync(folder);
  const realDir = realpathSync(dir);
  if (!real.startsWith(realDir + path.sep)) throw new ProfileError(file, [`${leaf}/ leads out of the profile folder (to ${printable(real, 200)})`]);
  return folder;
}

/** Loads a bundled profile by name (`active-12`) or a profile folder by path. */
export function loadProfile(nameOrDir: string): LoadedProfile {
  // A bare name (no separator, not starting with a dot) can only name a folder of PROFILES_DIR; anything
  // else is a folder path the user chose (`vigil sim --profile ./my-camera`), resolved from the cwd.
  const dir =
    nameOrDir.includes('/') || nameOrDir.includes(path.sep) || nameOrDir.startsWith('.') ? path.resolve(nameOrDir) : path.join(PROFILES_DIR, nameOrDir);
  const file = path.join(dir, 'profile.json');
  const text = readProfileText(file, nameOrDir);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(file, [`not valid JSON: ${printable((err as Error).message, 200)}`]);
  }
  const data = validateProfile(raw, file);
  if (data.name !== path.basename(dir)) throw new ProfileError(file, [`/name: "${data.name}" differs from the folder name "${printable(path.basename(dir))}"`]);
  const rootfsDir = innerFolder(dir, 'rootfs', file);
  if (!rootfsDir) throw new ProfileError(file, [`the profile has no rootfs/ folder beside it`]);
  return {
    name: data.name,
    dir,
    file,
    rootfsDir,
    localdataDir: innerFolder(dir, 'localdata', file),
    data,
  };
}

/** Names of the bundled profiles (folders with a profile.json), sorted. */
export function listProfiles(dir: string = PROFILES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'profile.json')))
    .map((e) => e.name)
    .sort();
}

/** The VAPIX fault rules of a profile, as a list. */
export function vapixFaults(profile: Profile): VapixFault[] {
  const f = profile.faults?.vapix;
  if (!f) return [];
  return Array.isArray(f) ? f : [f];
}

/** The profile's timed fault script (empty when it has none). */
export function faultScript(profile: Profile): FaultStep[] {
  return (profile.faults?.script ?? []).map((s) => ({ ...s }));
}

/** Compares AXIS OS versions numerically, part by part (9.80.3.12 < 10.12.228 < 11.9 ≤ 11.9.0). */
export function compareOsVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Every param.cgi parameter of the profile: the ones derived from identity and os (Properties.*,
 * Brand.*), overridden by the profile's own params.
 */
export function profileParams(profile: Profile): Record<string, string> {
  const id = profile.identity;
  const derived: Record<string, string> = {
    'Brand.Brand': id.brand,
    'Brand.ProdFullName': id.prodFullName,
    'Brand.ProdNbr': id.prodNbr,
    'Brand.ProdShortName': id.prodShortName,
    'Brand.ProdType': id.prodType,
    'Brand.ProdVariant': id.prodVariant ?? '',
    'Brand.WebURL': id.webUrl ?? 'http://www.axis.com',
    'Properties.Firmware.BuildDate': profile.os.buildDate,
    'Properties.Firmware.Version': profile.os.version,
    'Properties.System.Architecture': id.architecture,
    'Properties.System.HardwareID': id.hardwareId,
    'Properties.System.SerialNumber': id.serialNumber,
    'Properties.System.Soc': id.soc,
  };
  return { ...derived, ...profile.params };
}
