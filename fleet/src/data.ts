/**
 * The lifecycle, advisory and action tables: data files under fleet/data/ (or another folder: `vigil fleet --data`),
 * validated by schemas/ at load, so they can be updated without code. A bad file fails loudly, naming the file and
 * the problem (at start; data-watch.ts keeps the old tables when a changed file is bad).
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
  knownExploited?: boolean;
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

type Urgency = 'critical' | 'high' | 'medium' | 'low';

export interface LifecycleRule {
  id: string;
  /**
   * The evaluation's targetPath; 'retire-soon': the SoC's last track ends within the warning window; 'open-advisory':
   * on the newest build of its track, with advisories open there that a newer track the SoC gets closes.
   */
  path: 'upgrade' | 'move-track' | 'retire' | 'retire-soon' | 'open-advisory' | 'unknown';
  support?: string[];
  track?: string;
  kind: 'upgrade' | 'move-track' | 'retire' | 'check-version';
  urgency: Urgency;
  title: string;
  steps: string[];
  compensatingControls?: string[];
}

export interface IntegrityRule {
  kind: 'integrity';
  urgency: Urgency;
  control?: string;
  title: string;
  steps: string[];
}

export interface ActionsData {
  schema: 'vigil.actions/1';
  updated: string;
  risk: { urgency: Record<Urgency, number>; perCvssPoint: number; unscoredAdvisory: number; knownExploited: number; endOfLife: number };
  escalate: { criticalCvss: number; highCvss: number; knownExploited: Urgency; endOfLife: Urgency };
  lifecycle: LifecycleRule[];
  findings: {
    default: { title: string; urgency: Record<'high' | 'medium' | 'low', Urgency>; steps: string[] };
    rules: Record<string, { title: string; urgency?: Urgency; control?: string; steps: string[] }>;
  };
  integrity: Record<'unsigned-app' | 'pending-rollback' | 'file-drift' | 'integrity-error', IntegrityRule>;
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
  actions: ActionsData;
}

export const DATA_FILES = ['lifecycle.json', 'advisories.json', 'actions.json'] as const;

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

/** The tables from one folder (default fleet/data/), or from single files (tests). Throws on the first bad file. */
export function loadTables(options: { dir?: string; lifecycleFile?: string; advisoriesFile?: string; actionsFile?: string } = {}): Tables {
  const dir = options.dir ? options.dir.replace(/\/?$/, '/') : DATA_DIR;
  const lifecycleFile = options.lifecycleFile ?? dir + 'lifecycle.json';
  const advisoriesFile = options.advisoriesFile ?? dir + 'advisories.json';
  const actionsFile = options.actionsFile ?? dir + 'actions.json';
  const lifecycle = load<LifecycleData>(lifecycleFile, 'lifecycle.schema.json');
  const advisories = load<AdvisoriesData>(advisoriesFile, 'advisories.schema.json');
  const actions = load<ActionsData>(actionsFile, 'actions.schema.json');
  return { lifecycle, tracks: parseLifecycle(lifecycle, lifecycleFile), advisories, actions };
}
