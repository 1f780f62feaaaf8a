/**
 * The fleet's worklist: every camera's actions (rules.ts) ranked by risk, highest first, with counts, filtered as
 * worklist-query.ts asks. Retired cameras are left out (they are off the network, or should be).
 */
import type { Tables } from '../data';
import type { CameraEntry } from '../fleet-view';
import { actionsFor } from './rules';
import { ACTION_KINDS, URGENCIES, type Action, type ActionKind, type Urgency, type Worklist, type WorklistItem } from './types';

/** The actions of one camera entry; none without a report. */
export function entryActions(c: CameraEntry, tables: Tables, nowMs: number): Action[] {
  if (!c.latest || !c.evaluation) return [];
  return actionsFor(c.rec.serial, c.latest, c.evaluation, tables, nowMs);
}

export interface WorklistFilter {
  /** Any of these (none: all). */
  urgency: Urgency[];
  kind: ActionKind[];
  /** Exactly this camera. */
  serial: string | null;
  /** Case-insensitive text in the serial, model, OS version or title. */
  q: string | null;
  limit: number;
}

export function matchesFilter(item: WorklistItem, f: WorklistFilter): boolean {
  if (f.urgency.length && !f.urgency.includes(item.urgency)) return false;
  if (f.kind.length && !f.kind.includes(item.kind)) return false;
  if (f.serial !== null && item.serial !== f.serial) return false;
  if (f.q !== null) {
    const q = f.q.toLowerCase();
    if (![item.serial, item.model ?? '', item.osVersion ?? '', item.title].some((s) => s.toLowerCase().includes(q))) return false;
  }
  return true;
}

/** The matched items in worklist order, without the limit. */
export function filterItems(worklist: Worklist, f: WorklistFilter): WorklistItem[] {
  return worklist.items.filter((a) => matchesFilter(a, f));
}

export function countItems(items: WorklistItem[]): Worklist['counts'] {
  const byUrgency = Object.fromEntries(URGENCIES.map((u) => [u, 0])) as Record<Urgency, number>;
  const byKind = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>;
  const cameras = new Set<string>();
  for (const a of items) {
    byUrgency[a.urgency]++;
    byKind[a.kind]++;
    cameras.add(a.serial);
  }
  return { total: items.length, cameras: cameras.size, byUrgency, byKind };
}

/** The whole fleet's actions, ranked; worklist-query.ts filters and bounds them for the API, the CSV and the PDF. */
export function buildWorklist(entries: Iterable<CameraEntry>, tables: Tables, nowMs: number, isRetired: (c: CameraEntry) => boolean = () => false): Worklist {
  const items: WorklistItem[] = [];
  for (const c of entries) {
    if (isRetired(c)) continue;
    for (const a of entryActions(c, tables, nowMs)) items.push({ ...a, model: c.rec.model, osVersion: c.rec.osVersion, status: c.status });
  }
  items.sort((a, b) => b.risk - a.risk || URGENCIES.indexOf(a.urgency) - URGENCIES.indexOf(b.urgency) || a.serial.localeCompare(b.serial) || a.id.localeCompare(b.id));
  return {
    counts: countItems(items),
    data: { lifecycle: tables.lifecycle.updated, advisories: tables.advisories.updated, actions: tables.actions.updated },
    items,
  };
}
