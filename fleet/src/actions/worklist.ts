/**
 * The fleet's worklist: every camera's actions (rules.ts) ranked by risk, highest first, with counts, filtered as
 * the dashboard and /api/actions ask. Retired cameras are left out (they are off the network, or should be).
 */
import type { Tables } from '../data';
import type { CameraEntry } from '../fleet-view';
import { actionsFor } from './rules';
import { ACTION_KINDS, URGENCIES, type Action, type ActionKind, type Urgency, type Worklist, type WorklistItem } from './types';

export interface WorklistFilter {
  urgency?: Urgency;
  kind?: ActionKind;
  serial?: string;
  /** Case-insensitive text in the serial, model, OS version or title. */
  q?: string;
  limit?: number;
}

/** The actions of one camera entry; none without a report. */
export function entryActions(c: CameraEntry, tables: Tables, nowMs: number): Action[] {
  if (!c.latest || !c.evaluation) return [];
  return actionsFor(c.rec.serial, c.latest, c.evaluation, tables, nowMs);
}

const matches = (item: WorklistItem, f: WorklistFilter): boolean => {
  if (f.urgency && item.urgency !== f.urgency) return false;
  if (f.kind && item.kind !== f.kind) return false;
  if (f.serial && item.serial !== f.serial) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (![item.serial, item.model ?? '', item.osVersion ?? '', item.title].some((t) => t.toLowerCase().includes(q))) return false;
  }
  return true;
};

/** Counts describe the whole filtered list; items stop at the limit. */
export function buildWorklist(entries: Iterable<CameraEntry>, tables: Tables, nowMs: number, filter: WorklistFilter = {}, isRetired: (c: CameraEntry) => boolean = () => false): Worklist {
  const items: WorklistItem[] = [];
  for (const c of entries) {
    if (isRetired(c)) continue;
    for (const a of entryActions(c, tables, nowMs)) {
      const item: WorklistItem = { ...a, model: c.rec.model, osVersion: c.rec.osVersion, status: c.status };
      if (matches(item, filter)) items.push(item);
    }
  }
  items.sort((a, b) => b.risk - a.risk || URGENCIES.indexOf(a.urgency) - URGENCIES.indexOf(b.urgency) || a.serial.localeCompare(b.serial) || a.id.localeCompare(b.id));
  const byUrgency = Object.fromEntries(URGENCIES.map((u) => [u, 0])) as Record<Urgency, number>;
  const byKind = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>;
  const cameras = new Set<string>();
  for (const i of items) {
    byUrgency[i.urgency]++;
    byKind[i.kind]++;
    cameras.add(i.serial);
  }
  const limit = filter.limit ?? items.length;
  return {
    counts: { total: items.length, cameras: cameras.size, byUrgency, byKind },
    data: { lifecycle: tables.lifecycle.updated, advisories: tables.advisories.updated, actions: tables.actions.updated },
    items: items.slice(0, Math.max(0, limit)),
  };
}
