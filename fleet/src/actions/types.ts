/**
 * What the fleet recommends doing with a camera: one Action per thing to do, computed from the camera's report and
 * evaluation by the rules in fleet/data/actions.json (rules.ts), ranked across the fleet into the worklist
 * (worklist.ts). The dashboard, /api/actions, the CSV and PDF exports read these shapes.
 */

/**
 * upgrade: a newer release on the camera's own track (or the newest active release); move-track: to another track
 * (the current LTS, or the newest its SoC still gets); retire: no supported track left for the SoC (replace it, or
 * keep it behind compensating controls); harden: one hardening finding; integrity: something to check on the
 * device (unsigned app, pending rollback, file drift); check-version: a version the tables cannot place.
 */
export type ActionKind = 'upgrade' | 'move-track' | 'retire' | 'harden' | 'integrity' | 'check-version';
export const ACTION_KINDS: ActionKind[] = ['upgrade', 'move-track', 'retire', 'harden', 'integrity', 'check-version'];

export type Urgency = 'critical' | 'high' | 'medium' | 'low';
export const URGENCIES: Urgency[] = ['critical', 'high', 'medium', 'low'];

/** Where an upgrade or track move leads. */
export interface ActionTarget {
  /** The AXIS OS version to install, e.g. "12.11.147"; null when the tables know the track but not a release. */
  version: string | null;
  trackId: string | null;
  trackName: string | null;
}

export interface Action {
  /** Stable across reports while the same recommendation holds: `<serial>/<rule>[/<subject>]`, e.g. `B8P1/harden/ssh-enabled`. */
  id: string;
  serial: string;
  kind: ActionKind;
  /** The rule in fleet/data/actions.json that made it. */
  rule: string;
  urgency: Urgency;
  /** Ranking across the fleet, higher first (weights in actions.json: advisories' CVSS and known exploitation, end of life, finding severity, integrity). */
  risk: number;
  /** One line a human reads first: "Upgrade to AXIS OS 12.11.147". */
  title: string;
  target: ActionTarget | null;
  /** The facts that led to it, in plain sentences. */
  why: string[];
  /** Advisory ids the action closes (an upgrade past their fixed versions). */
  fixes: string[];
  /** Dates that matter: endOfSupport, graceEnds, rollbackAt… (ISO dates or timestamps). */
  dates: Record<string, string>;
  /** The AXIS OS hardening guide control, where there is one (e.g. "B14"). */
  control: string | null;
  /** What to do, in order. */
  steps: string[];
}

/** An action with what the worklist shows of its camera. */
export interface WorklistItem extends Action {
  model: string | null;
  osVersion: string | null;
  status: string;
}

export interface Worklist {
  counts: { total: number; cameras: number; byUrgency: Record<Urgency, number>; byKind: Record<ActionKind, number> };
  /** The `updated` dates of the data the actions were computed from. */
  data: { lifecycle: string; advisories: string; actions: string };
  items: WorklistItem[];
}
