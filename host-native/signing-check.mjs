// Is an .eap ready for Axis's signing service (docs/packaging.md, "Signing")? Axis appends its signature
// to the end of the package and validates manifest.json against the latest schema of its major version,
// so the file must be exactly one gzip stream (a gzip'd tar) with nothing after it, hold the executable,
// package.conf, a non-empty LICENSE and a manifest with architecture, vendor, vendorId and (v2)
// compatibleOsVersions, and package.conf must say what the manifest says.
import { inflateRawSync } from 'node:zlib';
import { PLACEHOLDER_VENDOR_IDS } from './package-config.mjs';

/** The end offset of the gzip member at the start of buf, or throws when buf is not gzip. */
const gzipMember = (buf) => {
  if (buf.length < 18 || buf[0] !== 0x1f || buf[1] !== 0x8b || buf[2] !== 8) throw new Error('not a gzip file');
  const flags = buf[3];
  let at = 10;
  if (flags & 4) at += 2 + buf.readUInt16LE(at);
  for (const bit of [8, 16]) if (flags & bit) at = buf.indexOf(0, at) + 1;
  if (flags & 2) at += 2;
  const { buffer, engine } = inflateRawSync(buf.subarray(at), { info: true });
  return { data: buffer, end: at + engine.bytesWritten + 8 };
};

/** The regular files of a tar archive: name → contents (ustar and GNU headers, GNU long names). */
export const tarMembers = (tar) => {
  const files = new Map();
  let longName = null;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from, len) => header.subarray(from, from + len).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const body = tar.subarray(at + 512, at + 512 + size);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = null;
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '\0') files.set(name, body);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
};

const confValues = (text) => {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(?:"(.*)"|'(.*)')$/.exec(line);
    if (m) out[m[1]] = m[2] ?? m[3];
  }
  return out;
};

/**
 * The problems that would stop Axis signing this package, [] when none. `release` also refuses a
 * placeholder vendor ID; `validate` (optional) checks the manifest against the manifest schema.
 */
export function signingProblems(eap, { release = false, validate } = {}) {
  const problems = [];
  let files;
  try {
    const { data, end } = gzipMember(eap);
    if (end !== eap.length) problems.push(`${eap.length - end} bytes after the gzip stream (already signed, or not one gzip member)`);
    files = tarMembers(data);
  } catch (err) {
    return [`not a gzip'd tar: ${err.message}`];
  }
  const text = (name) => files.get(name)?.toString('utf8');
  let manifest;
  try {
    manifest = JSON.parse(text('manifest.json') ?? '');
  } catch {
    return [...problems, 'no readable manifest.json'];
  }
  const setup = manifest.acapPackageConf?.setup ?? {};
  const v2 = /^2\./.test(manifest.schemaVersion ?? '');
  const [major, minor] = (manifest.schemaVersion ?? '0.0').split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 3)) problems.push(`schemaVersion ${manifest.schemaVersion}: signing needs 1.3 or later`);
  if (!['aarch64', 'armv7hf'].includes(setup.architecture)) problems.push(`manifest architecture ${JSON.stringify(setup.architecture ?? null)} is not aarch64 or armv7hf`);
  if (!setup.vendor) problems.push('manifest has no vendor');
  if (v2 && !/^[A-Fa-f0-9]{10}$/.test(setup.vendorId ?? '')) problems.push('manifest vendorId is not 10 hex digits');
  if (release && PLACEHOLDER_VENDOR_IDS.includes(setup.vendorId)) problems.push(`manifest vendorId ${setup.vendorId} is Axis's example placeholder`);
  if (v2 && !setup.compatibleOsVersions?.length) problems.push('manifest has no compatibleOsVersions');
  if (validate && !validate(manifest)) problems.push(`manifest.json fails the manifest schema: ${JSON.stringify(validate.errors ?? []).slice(0, 300)}`);
  if (!files.has(setup.appName)) problems.push(`no executable ${JSON.stringify(setup.appName ?? null)}`);
  if (!text('LICENSE')?.trim()) problems.push('LICENSE is missing or empty');
  const conf = text('package.conf');
  if (conf === undefined) return [...problems, 'no package.conf'];
  const c = confValues(conf);
  const [vMajor, vMinor, vMicro] = String(setup.version ?? '').split(/[.+-]/);
  const expect = { APPNAME: setup.appName, APPTYPE: setup.architecture, VENDOR: setup.vendor, APPMAJORVERSION: vMajor, APPMINORVERSION: vMinor, APPMICROVERSION: vMicro };
  for (const [key, want] of Object.entries(expect)) {
    if (c[key] !== want) problems.push(`package.conf ${key}=${JSON.stringify(c[key] ?? null)} but manifest.json says ${JSON.stringify(want ?? null)}`);
  }
  return problems;
}
