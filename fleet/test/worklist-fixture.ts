// A small Worklist in the shapes of fleet/src/actions/types.ts, for the export and query tests (not made by the
// rules: those have their own table-driven test).
import { ACTION_KINDS, URGENCIES, type ActionKind, type Urgency, type Worklist, type WorklistItem } from '../src/actions/types';

export function item(over: Partial<WorklistItem> & { serial: string; rule: string }): WorklistItem {
  return {
    id: `${over.serial}/${over.rule}`, kind: 'harden', urgency: 'medium', risk: 10, title: `Do ${over.rule}`, target: null,
    why: [`because of ${over.rule}`], fixes: [], dates: {}, control: null, steps: [], model: 'P3245-LVE', osVersion: '11.11.70', status: 'online',
    ...over,
  };
}

export function worklistOf(items: WorklistItem[], data: Worklist['data'] = { lifecycle: '2026-11-01', advisories: '2026-11-15', actions: '2026-11-20' }): Worklist {
  const byUrgency = Object.fromEntries(URGENCIES.map((u) => [u, 0])) as Record<Urgency, number>;
  const byKind = Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>;
  for (const a of items) { byUrgency[a.urgency]++; byKind[a.kind]++; }
  return { counts: { total: items.length, cameras: new Set(items.map((a) => a.serial)).size, byUrgency, byKind }, data, items };
}

export const FIXTURE_ITEMS: WorklistItem[] = [
  item({ serial: 'ACCC8E000001', rule: 'retire', kind: 'retire', urgency: 'critical', risk: 95, title: 'Retire and replace: no AXIS OS track left for ARTPEC-5', model: 'M3045-V', osVersion: '9.80.3.12', dates: { endOfSupport: '2025-12-31' }, control: null }),
  item({ serial: 'ACCC8E000002', rule: 'upgrade', kind: 'upgrade', urgency: 'high', risk: 80, title: 'Upgrade to AXIS OS 11.11.150', target: { version: '11.11.150', trackId: 'lts-2024', trackName: 'LTS 2024' }, fixes: ['CVE-2024-7784', 'CVE-2025-0324'] }),
  item({ serial: 'ACCC8E000002', rule: 'harden/telnet', kind: 'harden', urgency: 'high', risk: 60, title: 'Turn off Telnet', control: 'B8', why: ['telnet listening on tcp 0.0.0.0:23', 'no parameter turns it off'] }),
  item({ serial: 'ACCC8E000003', rule: 'integrity/unsigned-app', kind: 'integrity', urgency: 'medium', risk: 40, title: 'Check the unsigned app "=cmd|\' /C calc\'!A0"', control: 'C5' }),
  item({ serial: 'ACCC8E000003', rule: 'harden/ssh', kind: 'harden', urgency: 'low', risk: 5, title: 'Turn off SSH, "if unused", please', control: 'B14', why: ['SSH is on\nin parameters'] }),
];
