// The worklist across cameras (fleet/src/actions/worklist.ts through FleetConsumer.worklist): ranked by risk,
// filtered, counted, and recomputed from new tables without a restart (FleetConsumer.reloadTables).
import { afterEach, describe, expect, it } from 'vitest';
import { filterItems, type WorklistFilter } from '../src/actions/worklist';
import { FleetConsumer } from '../src/consumer';
import { loadTables, type Tables } from '../src/data';
import { SqliteStore } from '../src/store/sqlite';
import { finding, makeReport } from './fixtures';

const NOW = Date.parse('2026-12-02T12:00:00Z');
let store: SqliteStore;
afterEach(async () => {
  await store?.close();
});

async function consumerWith(reports: Array<Parameters<typeof makeReport>[0]>, tables: Tables = loadTables()): Promise<FleetConsumer> {
  store = new SqliteStore(':memory:');
  const c = new FleetConsumer({ brokerUrl: 'mqtt://127.0.0.1:1', store, tables, sweepMs: 0, now: () => NOW });
  for (const p of reports) {
    const r = makeReport(p);
    expect((await c.ingest(`vigil/v1/${r.deviceId}/report`, JSON.stringify(r))).result).toBe('stored');
  }
  return c;
}

const FLEET = [
  { serial: 'CAMOK', version: '12.11.147' },
  { serial: 'CAMOLD', version: '12.2.1', findings: [finding('ssh-enabled', 'medium', 'B14')] },
  { serial: 'CAMLTS', version: '11.11.140', soc: 'Ambarella S5L', findings: [finding('dot1x-off', 'low', 'Default')] },
  { serial: 'CAMEOL', version: '9.80.3.12', soc: 'Axis Artpec-7', findings: [finding('telnet-listening', 'high', 'E1')] },
];

describe('the worklist', () => {
  it('ranks the fleet by risk: the critical fix first, lows last, nothing for a clean camera', async () => {
    const w = (await consumerWith(FLEET)).worklist();
    expect(w.items[0]).toMatchObject({ serial: 'CAMOLD', kind: 'upgrade', urgency: 'critical' });
    expect(w.items.at(-1)).toMatchObject({ serial: 'CAMLTS', kind: 'harden', urgency: 'low' });
    expect(w.items.some((i) => i.serial === 'CAMOK')).toBe(false);
    const risks = w.items.map((i) => i.risk);
    expect(risks).toEqual([...risks].sort((a, b) => b - a));
  });
  it('counts the actions by urgency and kind, and the cameras they concern', async () => {
    const w = (await consumerWith(FLEET)).worklist();
    expect(w.counts).toEqual({
      total: 6, cameras: 3,
      byUrgency: { critical: 1, high: 2, medium: 2, low: 1 },
      byKind: { upgrade: 2, 'move-track': 1, retire: 0, harden: 3, integrity: 0, 'check-version': 0 },
    });
  });
  it('filters by urgency, kind, serial and text', async () => {
    const w = (await consumerWith(FLEET)).worklist();
    const f = (p: Partial<WorklistFilter>) => filterItems(w, { urgency: [], kind: [], serial: null, q: null, limit: 500, ...p }).map((i) => i.id);
    expect(f({ urgency: ['high'] }).sort()).toEqual(['CAMEOL/harden/telnet-listening', 'CAMEOL/os']);
    expect(f({ kind: ['harden'] })).toHaveLength(3);
    expect(f({ serial: 'CAMLTS' })).toEqual(['CAMLTS/os', 'CAMLTS/harden/dot1x-off']);
    expect(f({ q: 'ssh' })).toEqual(['CAMOLD/harden/ssh-enabled']);
  });
  it('leaves a retired camera out, and takes it back when it is put back in service', async () => {
    const c = await consumerWith(FLEET);
    await c.retire('CAMOLD', NOW, 'replaced');
    expect(c.worklist().items.some((i) => i.serial === 'CAMOLD')).toBe(false);
    expect(c.worklist().counts.cameras).toBe(2);
    await c.retire('CAMOLD', null);
    expect(c.worklist().items[0].serial).toBe('CAMOLD');
  });
  it('names the dates of the data it was computed from', async () => {
    const t = loadTables();
    expect((await consumerWith(FLEET)).worklist().data).toEqual({ lifecycle: t.lifecycle.updated, advisories: t.advisories.updated, actions: t.actions.updated });
  });
  it("gives one camera's actions, and null for an unknown camera", async () => {
    const c = await consumerWith(FLEET);
    expect(c.actionsFor('CAMEOL')?.map((a) => a.id)).toEqual(['CAMEOL/os', 'CAMEOL/harden/telnet-listening']);
    expect(c.actionsFor('NOPE')).toBeNull();
  });
});

describe('new tables without a restart', () => {
  it('re-evaluates every camera and announces exactly those whose evaluation changed', async () => {
    const c = await consumerWith([{ serial: 'CAM12', version: '12.11.147' }, { serial: 'CAM11', version: '11.11.248' }]);
    const base = loadTables();
    const extra = {
      id: 'CVE-2026-9999', title: 'Test advisory for 12.11', cvss: 8.1,
      affected: [{ track: 'lts2026', prefix: '12.11', fixed: null, fixConfirmed: false }],
    };
    const announced: string[] = [];
    c.on('camera', (v: { serial: string }) => announced.push(v.serial));
    const changed = c.reloadTables({ ...base, advisories: { ...base.advisories, advisories: [...base.advisories.advisories, extra] } });
    expect([changed, announced]).toEqual([1, ['CAM12']]);
    expect(c.camera('CAM12')?.evaluation?.advisories.map((a) => a.id)).toContain('CVE-2026-9999');
    expect(c.camera('CAM11')?.evaluation?.advisories.map((a) => a.id)).not.toContain('CVE-2026-9999');
  });
});
