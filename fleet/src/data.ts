/**
 * The lifecycle and advisory tables: data files under fleet/data/, validated by schemas/ at load, so they
 * can be updated without code. A bad file fails loudly at start, naming the file and the problem.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeErrors, schemaValidator } from './validate';
import { mustParse, type Version } from './version';

export const DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

export interface TrackData {
  id: string;
  name: string;
  kind: 'lts' | 'active';
  prefix?: string;
  from?: string;
  released?: string | null;
  endOfSupport?: string | null;
  endEstimated?: boolean;
  latest: string;
  latestEstimated?: boolean;
  /** When `latest` was released; the grace period counts from it. */
  latestReleased?: string | null;
  /** 'all' (default): every release on the track is supported; 'latest': only the newest version; 'latest-minor': any build of the newest MAJOR.MINOR. */
  supportedReleases?: 'all' | 'latest' | 'latest-minor';
  /** Days after latestReleased during which an older release still counts as supported (ending soon). */
  graceDays?: number;
  /** SoCs removed from the active track that stay on this LTS track for good. */
  finalForSocs?: string[];
  note?: string;
}

export interface LifecycleData {
  schema: 'vigil.lifecycle/1';
  updated: string;
  endingSoonDays: number;
  /** A version more majors ahead of the newest known release than this is not real (default 1). */
  plausibleMajorsAhead?: number;
  tracks: TrackData[];
}

export interface AffectedRange {
  track?: string;
  prefix?: string;
  from?: string;
  lessThan?: string;
  fixed: string | null;
  fixConfirmed: boolean;
}

export interface AdvisoryData {
  id: string;
  title: string;
  cvss: number | null;
  cwe?: string;
  url?: string;
  note?: string;
  socs?: string[];
  affected: AffectedRange[];
}

export interface AdvisoriesData {
  schema: 'vigil.advisories/1';
  updated: string;
  advisories: AdvisoryData[];
}

/** Parsed forms, ready for matching. */
export interface Track extends TrackData {
  prefixV: Version | null;
  fromV: Version | null;
  latestV: Version;
  /** End of support as epoch ms of the end of that (UTC) day, or null. */
  endMs: number | null;
  /** Older releases count as supported until this epoch ms (end of the grace's last UTC day); null: no grace. */
  graceEndMs: number | null;
  /** finalForSocs as whole-word, case-insensitive patterns. */
  finalSocPatterns: RegExp[];
}

export interface Tables {
  lifecycle: LifecycleData;
  tracks: Track[];
  advisories: AdvisoriesData;
}

function load<T>(file: string, schemaFile: string, text?: string): T {
  let data: unknown;
  try {
    data = JSON.parse(text ?? readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`[vigil] [fleet] cannot read ${file}: ${(err as Error).message}`);
  }
  const validate = schemaValidator(schemaFile);
  if (!validate(data)) throw new Error(`[vigil] [fleet] ${file} does not match schemas/${schemaFile}: ${describeErrors(validate.errors)}`);
  return data as T;
}

const wholeWord = (text: string): RegExp => new RegExp(`(^|[^a-z0-9])${text.replace(/[.*+?^$()|[\]{}\\]/g, '\\$&')}($|[^a-z0-9])`, 'i');

export function parseLifecycle(data: LifecycleData, file = 'lifecycle.json'): Track[] {
  const ids = new Set<string>();
  return data.tracks.map((t) => {
    if (ids.has(t.id)) throw new Error(`[vigil] [fleet] ${file}: track id "${t.id}" appears twice`);
    ids.add(t.id);
    const grace = t.graceDays ?? 0;
    if (grace > 0 && !t.latestReleased) throw new Error(`[vigil] [fleet] ${file}: track "${t.id}" has graceDays ${grace} but no latestReleased to count them from`);
    return {
      ...t,
      prefixV: t.prefix ? mustParse(t.prefix, `${file} ${t.id}.prefix`) : null,
      fromV: t.from ? mustParse(t.from.includes('.') ? t.from : `${t.from}.0`, `${file} ${t.id}.from`) : null,
      latestV: mustParse(t.latest, `${file} ${t.id}.latest`),
      endMs: t.endOfSupport ? Date.parse(`${t.endOfSupport}T23:59:59.999Z`) : null,
      graceEndMs: grace > 0 && t.latestReleased ? Date.parse(`${t.latestReleased}T23:59:59.999Z`) + grace * 86_400_000 : null,
      // "S5" must not match inside "S5L" or "CV25": whole words only.
      finalSocPatterns: (t.finalForSocs ?? []).map(wholeWord),
    };
  });
}

export function loadTables(options: { lifecycleFile?: string; advisoriesFile?: string } = {}): Tables {
  const lifecycleFile = options.lifecycleFile ?? DATA_DIR + 'lifecycle.json';
  const advisoriesFile = options.advisoriesFile ?? DATA_DIR + 'advisories.json';
  const lifecycle = load<LifecycleData>(lifecycleFile, 'lifecycle.schema.json');
  const advisories = load<AdvisoriesData>(advisoriesFile, 'advisories.schema.json');
  return { lifecycle, tracks: parseLifecycle(lifecycle, lifecycleFile), advisories };
}
