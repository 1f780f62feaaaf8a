// The FleetStore contract: one suite both stores pass (store.sqlite.test.ts, store.postgres.test.ts). What it
// holds a store to is the interface (store/types.ts) and the decisions of store/decide.ts, as a consumer sees
// them through ingest() and the reads; nothing of a store's own tables.
import { afterEach, describe, expect, it } from 'vitest';
import type { FleetStore, IngestItem, QuarantineRow } from '../src/store/types';
import { alertsContract } from './store-contract-alerts';
import { event, MIN, quarantineRow, report, reports, reportText, state, T0 } from './store-contract-items';
import { readsContract } from './store-contract-reads';
import { reportContract } from './store-contract-reports';
import { stateContract } from './store-contract-states';

export interface ContractContext {
  /** A fresh, empty store; closed after the test. */
  open(): Promise<FleetStore>;
  /** The data of the store the last open() gave, opened again (after it was closed); absent for a store that keeps nothing. */
  reopen?: () => Promise<FleetStore>;
}

export interface ContractOptions {
  reopen?: () => Promise<FleetStore>;
}

const CAM = 'ACCC8E000001';

/** A quarantined message whose topic is missing: a NOT NULL column refuses it in any store. */
function brokenItem(): IngestItem {
  return { kind: 'quarantine', row: { ...quarantineRow(T0), topic: null } as unknown as QuarantineRow };
}

export function storeContract(name: string, open: () => Promise<FleetStore>, options: ContractOptions = {}): void {
  describe(`${name} keeps the FleetStore contract`, () => {
    const opened: FleetStore[] = [];
    const track = async (p: Promise<FleetStore>): Promise<FleetStore> => {
      const s = await p;
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0).reverse()) await s.close().catch(() => undefined);
    });
    const reopen = options.reopen;
    const ctx: ContractContext = { open: () => track(open()), reopen: reopen ? () => track(reopen()) : undefined };

    reportContract(ctx);
    stateContract(ctx);
    readsContract(ctx);
    alertsContract(ctx);

    describe('the store itself', () => {
      it('says its kind and opens at a schema version of at least 1', async () => {
        const store = await ctx.open();
        expect(['sqlite', 'postgres']).toContain(store.kind);
        expect(Number.isInteger(store.schemaVersion) && store.schemaVersion >= 1).toBe(true);
      });

      it('answers an empty batch with no outcomes', async () => {
        const store = await ctx.open();
        expect(await store.ingest([])).toEqual([]);
      });

      it('writes nothing of a batch that fails, and throws', async () => {
        const store = await ctx.open();
        await store.ingest([report(CAM, 1)]);
        const batch: IngestItem[] = [report(CAM, 2), state(CAM, 'online', 1, T0), event(CAM, 'e-1', T0), brokenItem(), report(CAM, 5)];
        await expect(store.ingest(batch)).rejects.toThrow();
        expect((await store.loadCameras())[0]).toMatchObject({ reports: 1, lastSeq: 1, connection: 'unknown', gaps: 0 });
        expect(await store.history(CAM, 10)).toHaveLength(1);
        expect(await store.states(CAM, 10)).toEqual([]);
        expect(await store.events(CAM, 10)).toEqual([]);
        expect(await store.gaps(CAM)).toEqual([]);
        expect(await store.quarantined(10)).toEqual([]);
      });

      it('decides the batch after a failed one as if the failed one never came', async () => {
        const store = await ctx.open();
        await store.ingest([report(CAM, 1)]);
        await expect(store.ingest([report(CAM, 2), brokenItem()])).rejects.toThrow();
        const out = await store.ingest([report(CAM, 2)]);
        expect(out).toMatchObject([{ kind: 'report', result: 'stored', gap: null, camera: { reports: 2, duplicates: 0 } }]);
      });

      it('rejects calls after close', async () => {
        const store = await ctx.open();
        await store.close();
        await expect(Promise.resolve().then(() => store.ingest([report(CAM, 1)]))).rejects.toThrow();
      });

      it('never tells its own watch listener of its own writes', async () => {
        const store = await ctx.open();
        const heard: unknown[] = [];
        await store.watch((c) => heard.push(c));
        await store.ingest([report(CAM, 1), event(CAM, 'e-1', T0)]);
        await store.setRetired(CAM, T0, 'x');
        // A store tells of its own writes never, so nothing can arrive later either; another store's writes are
        // the PostgreSQL tests' business.
        await new Promise((r) => setTimeout(r, 50));
        expect(heard).toEqual([]);
      });

      it.skipIf(!reopen)('keeps everything when opened again', async () => {
        const store = await ctx.open();
        await store.ingest([...reports(CAM, 1, 3), report(CAM, 6), state(CAM, 'online', 4, T0), event(CAM, 'e-1', T0 + MIN)]);
        await store.quarantine(quarantineRow(T0));
        await store.updateAlerts(CAM, () => ({ puts: [], deletes: [], alerts: [{ id: 'a-1', serial: CAM, kind: 'raised', condition: 'lost', severity: 'high', raisedMs: T0, json: '{"id":"a-1"}' }] }), ['mqtt'], T0);
        const before = {
          cameras: await store.loadCameras(), history: await store.history(CAM, 10), gaps: await store.gaps(CAM), states: await store.states(CAM, 10),
          events: await store.events(CAM, 10), quarantined: await store.quarantined(10), alerts: await store.alerts(10), deliveries: await store.deliveriesOf('a-1'),
        };
        const version = store.schemaVersion;
        await store.close();
        const again = await ctx.reopen!();
        expect(again.schemaVersion).toBe(version);
        expect({
          cameras: await again.loadCameras(), history: await again.history(CAM, 10), gaps: await again.gaps(CAM), states: await again.states(CAM, 10),
          events: await again.events(CAM, 10), quarantined: await again.quarantined(10), alerts: await again.alerts(10), deliveries: await again.deliveriesOf('a-1'),
        }).toEqual(before);
        expect(before.cameras[0].reportJson).toBe(reportText(CAM, 6));
        expect(await again.ingest([report(CAM, 3)])).toMatchObject([{ kind: 'report', result: 'duplicate' }]);
      });
    });
  });
}
