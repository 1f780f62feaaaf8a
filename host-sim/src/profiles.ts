/**
 * Device profiles: host-sim/profiles/<name>/{profile.json, rootfs/, localdata/?}, validated against
 * schemas/profile.schema.json. An invalid profile is an error that names the file and the JSON path.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
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

let validator: ValidateFunction | null = null;

function profileValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(PROFILE_SCHEMA_FILE, 'utf8')));
  }
  return validator;
}

export class ProfileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`[host-sim] [profiles] ${file}: ${problems.join('; ')}`);
    this.name = 'ProfileError';
  }
}

function describe(e: ErrorObject): string {
  const at = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') return `${at}: unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum') return `${at}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${at}: ${e.message}`;
}

/** Validates profile data; throws a ProfileError naming `file` and every bad JSON path. */
export function validateProfile(data: unknown, file: string): Profile {
  const validate = profileValidator();
  if (!validate(data)) {
    // oneOf failures repeat every branch's complaint; keep the clearest ones first and drop duplicates.
    const problems = Array.from(new Set((validate.errors ?? []).map(describe)));
    throw new ProfileError(file, problems);
  }
  return data as Profile;
}

/** Loads a bundled profile by name (`active-12`) or a profile folder by path. */
export function loadProfile(nameOrDir: string): LoadedProfile {
  const dir =
    nameOrDir.includes('/') || nameOrDir.includes(path.sep) || nameOrDir.startsWith('.') ? path.resolve(nameOrDir) : path.join(PROFILES_DIR, nameOrDir);
  const file = path.join(dir, 'profile.json');
  if (!existsSync(file)) {
    const known = listProfiles().join(', ');
    throw new ProfileError(file, [`no such profile "${nameOrDir}" (bundled profiles: ${known})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ProfileError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const data = validateProfile(raw, file);
  if (data.name !== path.basename(dir)) throw new ProfileError(file, [`/name: "${data.name}" differs from the folder name "${path.basename(dir)}"`]);
  const rootfsDir = path.join(dir, 'rootfs');
  if (!existsSync(rootfsDir) || !statSync(rootfsDir).isDirectory()) throw new ProfileError(file, [`the profile has no rootfs/ folder beside it`]);
  const localdata = path.join(dir, 'localdata');
  return {
    name: data.name,
    dir,
    file,
    rootfsDir,
    localdataDir: existsSync(localdata) && statSync(localdata).isDirectory() ? localdata : null,
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
