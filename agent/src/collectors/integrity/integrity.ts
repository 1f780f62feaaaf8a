/**
 * Integrity collector: a file baseline of config.fileScan.paths kept in <dataDir>/baseline.json, platform
 * facts derived from data (VAPIX reports none, reference §6), installed ACAP apps and AllowUnsigned, and
 * the agent's own bundle hash.
 *
 * The baseline is the reference until rebaseline(): a changed file keeps being reported, so tampering does
 * not vanish after one report. Only files whose stat (type, size, mtime, inode) differs from the baseline are
 * hashed again; when such a file's content turns out unchanged, its new stat is written back silently.
 * Symbolic links are recorded as links and never followed, so link loops cannot trap the walk.
 */
import type { FileStat, Host } from '../../host';
import type { CollectorError, FileChange, IntegrityReport, Maybe, PlatformIntegrity } from '../../report/types';
import { readText, writeText } from '../../util/text';
import { errorCode } from '../../util/errors';
import { isoNow } from '../../util/time';
import { APPS_CONFIG_CGI, APPS_LIST_CGI } from '../../vapix/vapix';
import { type CollectorContext, type CollectorResult, collectorError, runCollector, toCollectorError } from '../context';

export interface IntegrityInput {
  /** From the device collector, so no VAPIX call is made twice. */
  soc: Maybe<string>;
  osVersion: Maybe<string>;
}

export const BASELINE_FILE = 'baseline.json';
const MAX_BASELINE_BYTES = 8 << 20;
/** The report lists at most this many changes; totalChanges keeps the true count. */
export const MAX_CHANGES = 100;

/** AXIS OS images are signed since 8.30.1 and only signed images are accepted since 9.20.1 (reference §6). */
export const SIGNED_OS = { signedSince: [8, 30, 1], enforcedSince: [9, 20, 1] };

/** Per-SoC platform facts, matched against the SoC name without case, spaces or dashes ("Axis Artpec-8"). */
export const SOC_FACTS: Array<{ soc: string; secureBoot: boolean; edgeVault: boolean }> = [
  { soc: 'artpec8', secureBoot: true, edgeVault: true },
  { soc: 'artpec9', secureBoot: true, edgeVault: true },
];

/** [kind: f(ile) | l(ink) | o(ther), size, mtimeMs, inode, sha256 or null when not hashed/readable] */
type Entry = [string, number, number, number, string | null];

interface Baseline {
  v: 1;
  createdAt: string;
  paths: string[];
  files: Record<string, Entry>;
}

interface Scan {
  byPath: Map<string, FileStat>;
  /** Paths that could not be read or listed, with the reason. */
  problems: Array<[string, string]>;
  /** Directories whose content is unknown this time (listing failed): no removals are inferred below them. */
  blind: string[];
  truncated: boolean;
}

type FileCheck = Pick<IntegrityReport, 'status' | 'baseline' | 'changes' | 'totalChanges'>;

/** A file check that lists no changes (failed, or a new baseline). */
const noChanges = (status: IntegrityReport['status'], baseline: IntegrityReport['baseline'] = null): FileCheck => ({ status, baseline, changes: [], totalChanges: 0 });

/** The report's integrity part when the check failed as a whole (the agent's fallback too). */
export const failedIntegrity = (host: Host, platform = platformFacts(null, null)): IntegrityReport => ({
  ...noChanges('error'),
  platform,
  apps: [],
  allowUnsignedApps: null,
  agentBundleSha256: host.info.bundleSha256 ?? null,
});

export const collectIntegrity = (ctx: CollectorContext, input: IntegrityInput): Promise<CollectorResult<IntegrityReport>> => {
  const platform = platformFacts(input.soc, input.osVersion);
  return runCollector(
    'integrity',
    () => failedIntegrity(ctx.host, platform),
    async (guard, errors) => {
      const [apps, allowUnsigned, files] = await Promise.all([
        guard(APPS_LIST_CGI, ctx.vapixApi.listApplications()),
        guard(APPS_CONFIG_CGI, ctx.vapixApi.unsignedAllowed()),
        checkFiles(ctx, errors),
      ]);
      // the same keys in the same order as the fallback
      return { ...failedIntegrity(ctx.host, platform), ...files, apps: apps ?? [], allowUnsignedApps: allowUnsigned ?? null };
    },
  );
};

/** Records a new baseline now, replacing the old one (the `rebaseline` command). */
export const rebaseline = (ctx: CollectorContext): Promise<CollectorResult<IntegrityReport['baseline']>> => {
  return runCollector('integrity', () => null, async (_guard, errors) => {
    const made = await createBaseline(ctx, errors);
    return made.baseline;
  });
};

export const platformFacts = (soc: Maybe<string>, osVersion: Maybe<string>): PlatformIntegrity => {
  const v = parseVersion(osVersion);
  const key = (soc ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  const facts = key ? SOC_FACTS.find((f) => key.indexOf(f.soc) >= 0) : undefined;
  return {
    // between the two versions the running image may be signed, but nothing enforced it: unknown
    signedOs: !v ? null : compareVersions(v, SIGNED_OS.enforcedSince) >= 0 ? true : compareVersions(v, SIGNED_OS.signedSince) < 0 ? false : null,
    secureBoot: facts ? facts.secureBoot : null,
    edgeVault: facts ? facts.edgeVault : null,
  };
};

const parseVersion = (v: Maybe<string>): number[] | null => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
};

const compareVersions = (a: number[], b: number[]): number => {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
};

const checkFiles = async (ctx: CollectorContext, errors: CollectorError[]): Promise<FileCheck> => {
  const { host, agentConf: config } = ctx;
  const path = `${config.dataDir}/${BASELINE_FILE}`;
  let old: Baseline | null = null;
  try {
    old = parseBaseline(await readText(host.fs, path, MAX_BASELINE_BYTES));
    if (!old) errors.push(problem('ECORRUPT', `${path} is not a valid baseline; recording a new one`));
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') {
      // keep the old baseline (it is the tamper evidence); try again next time
      errors.push(toCollectorError('integrity', err, `cannot read ${path}`));
      return noChanges('error');
    }
  }
  if (old && old.paths.join('\n') !== config.fileScan.paths.join('\n')) {
    errors.push(problem('EBASELINE', 'IntegrityPaths changed since the baseline was recorded; recording a new one'));
    old = null;
  }
  if (!old) return createBaseline(ctx, errors);

  const scan = await scanPaths(ctx);
  const changes: FileChange[] = [];
  let dirty = false;
  for (const [file, st] of scan.byPath) {
    const base = old.files[file];
    const now = toEntry(st, null);
    // new, or its stat (type, size, mtime, inode) differs: hash it again
    if (!base || base.slice(0, 4).join() !== now.slice(0, 4).join()) {
      if (now[0] === 'f') now[4] = await hashFile(ctx, file, scan);
      if (!base) changes.push(withHashes({ path: file, change: 'added' }, undefined, now[4]));
      else if (now[0] === base[0] && now[4] !== null && now[4] === base[4]) {
        old.files[file] = now; // touched, same content
        dirty = true;
      } else changes.push(withHashes({ path: file, change: 'changed' }, base[4], now[4]));
    }
  }
  if (!scan.truncated) {
    for (const file of Object.keys(old.files)) {
      if (scan.byPath.has(file) || scan.blind.some((d) => file.startsWith(d + '/'))) continue;
      changes.push(withHashes({ path: file, change: 'removed' }, old.files[file][4], null));
    }
  }
  reportScan(scan, config.fileScan.maxFiles, errors);
  if (dirty) await writeBaseline(ctx, old, errors);
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    status: changes.length ? 'changed' : 'ok',
    baseline: { createdAt: old.createdAt, files: Object.keys(old.files).length },
    changes: changes.slice(0, MAX_CHANGES),
    totalChanges: changes.length,
  };
};

const createBaseline = async (ctx: CollectorContext, errors: CollectorError[]): Promise<FileCheck> => {
  const scan = await scanPaths(ctx);
  const baseline: Baseline = {
    v: 1,
    createdAt: isoNow(ctx.host.clock),
    paths: ctx.agentConf.fileScan.paths.slice(),
    files: {},
  };
  for (const [file, st] of scan.byPath) {
    baseline.files[file] = toEntry(st, st.type === 'file' ? await hashFile(ctx, file, scan) : null);
  }
  reportScan(scan, ctx.agentConf.fileScan.maxFiles, errors);
  const written = await writeBaseline(ctx, baseline, errors);
  return written ? noChanges('baseline-created', { createdAt: baseline.createdAt, files: scan.byPath.size }) : noChanges('error');
};

const writeBaseline = async (ctx: CollectorContext, baseline: Baseline, errors: CollectorError[]): Promise<boolean> => {
  const { host, agentConf: config } = ctx;
  const path = `${config.dataDir}/${BASELINE_FILE}`;
  try {
    await host.fs.mkdir(config.dataDir);
    await writeText(host.fs, path, JSON.stringify(baseline));
    return true;
  } catch (err) {
    errors.push(toCollectorError('integrity', err, `cannot write ${path}`));
    return false;
  }
};

/** Walks the configured paths with lstat semantics, in sorted order, up to maxFiles entries. */
const scanPaths = async (ctx: CollectorContext): Promise<Scan> => {
  const { fs } = ctx.host;
  const max = ctx.agentConf.fileScan.maxFiles;
  const scan: Scan = { byPath: new Map(), problems: [], blind: [], truncated: false };
  const visitedDirs = new Set<string>();
  /** Records a non-directory, up to maxFiles. */
  const found = (path: string, st: FileStat) => {
    if (scan.byPath.size >= max) scan.truncated = true;
    else scan.byPath.set(path, st);
  };
  const visit = async (path: string, listed = false): Promise<void> => {
    if (scan.byPath.has(path) || visitedDirs.has(path)) return;
    let st: FileStat;
    try {
      st = await fs.stat(path);
    } catch (err) {
      if (listed && errorCode(err) === 'ENOENT') {
        // Listed by its directory but not found by name: a name that is not valid UTF-8 does not survive the
        // trip through a JS string. Record that something is there, so that it shows up as added/removed
        // (ROBUSTNESS.md, "integrity-invalid-utf8-name-invisible").
        scan.problems.push([path, 'EILSEQ']);
        found(path, { type: 'other', size: -1, mtimeMs: 0, ino: 0, mode: 0 });
        return;
      }
      scan.problems.push([path, errorCode(err)]);
      if (errorCode(err) !== 'ENOENT') scan.blind.push(path);
      return;
    }
    if (st.type !== 'dir') {
      found(path, st);
      return;
    }
    visitedDirs.add(path);
    let names: string[];
    try {
      names = (await fs.list(path)).map((e) => e.name).sort();
    } catch (err) {
      scan.problems.push([path, errorCode(err)]);
      scan.blind.push(path);
      return;
    }
    for (const name of names) {
      if (scan.truncated) return;
      await visit(path === '/' ? '/' + name : `${path}/${name}`, true);
    }
  };
  for (const root of ctx.agentConf.fileScan.paths) await visit(root.replace(/(.)\/+$/, '$1'));
  return scan;
};

const hashFile = async (ctx: CollectorContext, path: string, scan: Scan): Promise<string | null> => {
  try {
    return await ctx.host.crypto.sha256File(path, ctx.agentConf.fileScan.hashBytesPerSec);
  } catch (err) {
    scan.problems.push([path, errorCode(err)]);
    return null;
  }
};

const reportScan = (scan: Scan, max: number, errors: CollectorError[]): void => {
  const p = scan.problems;
  if (p.length) {
    const list = p.slice(0, 5).map(([path, code]) => `${path} (${code})`).join(', ');
    errors.push(problem(p[0][1], `${p.length} path(s) not fully checked: ${list}${p.length > 5 ? ', …' : ''}`));
  }
  if (scan.truncated) errors.push(problem('ELIMIT', `stopped at IntegrityMaxFiles=${max}; removed files are not reported`));
};

const problem = (code: string, message: string): CollectorError => collectorError('integrity', code, message);

const toEntry = (st: FileStat, hash: string | null): Entry => [st.type === 'file' ? 'f' : st.type === 'symlink' ? 'l' : 'o', st.size, st.mtimeMs, st.ino, hash];

const withHashes = (change: FileChange, before: string | null | undefined, after: string | null | undefined): FileChange => {
  if (before) change.before = before;
  if (after) change.after = after;
  return change;
};

const parseBaseline = (text: string): Baseline | null => {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    return null;
  }
  const b = d as Baseline;
  if (!b || typeof b !== 'object' || b.v !== 1 || typeof b.createdAt !== 'string' || !Array.isArray(b.paths)) return null;
  if (!b.files || typeof b.files !== 'object' || Array.isArray(b.files)) return null;
  for (const k of Object.keys(b.files)) {
    const e = b.files[k] as unknown[];
    if (!Array.isArray(e) || e.length !== 5 || typeof e[0] !== 'string' || (e[4] !== null && typeof e[4] !== 'string')) return null;
    if (!e.slice(1, 4).every((n) => typeof n === 'number')) return null;
  }
  return b;
};
