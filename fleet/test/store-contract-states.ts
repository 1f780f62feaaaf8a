// The store contract, states, events and quarantine: stale wills ignored, session resets followed, an event
// once per eventId, quarantined messages kept for a human.
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './store-contract';
import { event, MIN, quarantined, quarantineRow, report, state, T0 } from './store-contract-items';

const CAM = 'ACCC8E000001';
const CAM2 = 'ACCC8E000002';

export function stateContract(ctx: ContractContext): void {
  describe('states', () => {
    it('takes an online state as the camera connection, session and time', async () => {
      const store = await ctx.open();
      const [o] = await store.ingest([state(CAM, 'online', 5, T0)]);
      expect(o).toMatchObject({ kind: 'state', result: 'stored', camera: { connection: 'online', session: 5, stateAt: new Date(T0).toISOString() } });
      expect((await store.loadCameras())[0]).toMatchObject({ serial: CAM, connection: 'online', session: 5, reportJson: null, reports: 0 });
    });

    it('ignores a lost will from an older session as stale and records it as such', async () => {
      const store = await ctx.open();
      await store.ingest([state(CAM, 'online', 5, T0 + MIN)]);
      const [o] = await store.ingest([state(CAM, 'lost', 4, T0, { nowMs: T0 + 2 * MIN })]);
      expect(o).toMatchObject({ kind: 'state', result: 'stale', camera: { connection: 'online', session: 5 } });
      expect((await store.loadCameras())[0]).toMatchObject({ connection: 'online', session: 5 });
      expect((await store.states(CAM, 10)).map((s) => [s.state, s.session, s.stale])).toEqual([['lost', 4, true], ['online', 5, false]]);
    });

    it('follows an online state from a lower session that is newer: the agent counter was reset', async () => {
      const store = await ctx.open();
      await store.ingest([state(CAM, 'online', 5, T0)]);
      const [o] = await store.ingest([state(CAM, 'online', 1, T0 + 10 * MIN)]);
      expect(o).toMatchObject({ result: 'stored', camera: { connection: 'online', session: 1 } });
    });

    it('ignores an online state of the same session after its offline as a stale replay', async () => {
      const store = await ctx.open();
      await store.ingest([state(CAM, 'online', 5, T0), state(CAM, 'offline', 5, T0 + MIN, { reason: 'shutdown' })]);
      const [o] = await store.ingest([state(CAM, 'online', 5, T0)]);
      expect(o).toMatchObject({ result: 'stale', camera: { connection: 'offline', stateReason: 'shutdown' } });
    });

    it('takes an offline state with reason lost (the older spelling of a will) as lost', async () => {
      const store = await ctx.open();
      const [o] = await store.ingest([state(CAM, 'offline', 2, T0, { reason: 'lost' })]);
      expect(o).toMatchObject({ camera: { connection: 'lost', stateReason: 'lost' } });
    });

    it('keeps a camera report counters when a state arrives, and its state when a report arrives', async () => {
      const store = await ctx.open();
      await store.ingest([report(CAM, 1), state(CAM, 'online', 3, T0), report(CAM, 2)]);
      expect((await store.loadCameras())[0]).toMatchObject({ reports: 2, lastSeq: 2, connection: 'online', session: 3 });
    });

    it('lists a camera states newest first, up to the limit', async () => {
      const store = await ctx.open();
      await store.ingest([1, 2, 3, 4].map((n) => state(CAM, n % 2 ? 'online' : 'offline', 7, T0 + n * MIN)));
      const rows = await store.states(CAM, 3);
      expect(rows.map((s) => s.receivedMs)).toEqual([T0 + 4 * MIN + 100, T0 + 3 * MIN + 100, T0 + 2 * MIN + 100]);
      expect(rows[0]).toEqual({ serial: CAM, receivedMs: T0 + 4 * MIN + 100, state: 'offline', reason: null, session: 7, at: new Date(T0 + 4 * MIN).toISOString(), stale: false });
    });

    it('orders states received in the same ms by arrival, newest first', async () => {
      const store = await ctx.open();
      await store.ingest([state(CAM, 'online', 1, T0, { nowMs: T0 }), state(CAM, 'offline', 1, T0 + 1, { nowMs: T0 })]);
      expect((await store.states(CAM, 10)).map((s) => s.state)).toEqual(['offline', 'online']);
    });
  });

  describe('events', () => {
    it('stores an event once per eventId, across batches', async () => {
      const store = await ctx.open();
      expect(await store.ingest([event(CAM, 'e-000001', T0)])).toEqual([{ kind: 'event', result: 'stored' }]);
      expect(await store.ingest([event(CAM, 'e-000001', T0 + MIN)])).toEqual([{ kind: 'event', result: 'duplicate' }]);
      expect(await store.events(CAM, 10)).toHaveLength(1);
    });

    it('stores an eventId repeated within one batch once', async () => {
      const store = await ctx.open();
      const out = await store.ingest([event(CAM, 'e-000001', T0), event(CAM, 'e-000001', T0)]);
      expect(out.map((o) => o.kind === 'event' && o.result)).toEqual(['stored', 'duplicate']);
    });

    it('keeps the same eventId of two cameras apart', async () => {
      const store = await ctx.open();
      const out = await store.ingest([event(CAM, 'e-000001', T0), event(CAM2, 'e-000001', T0)]);
      expect(out.map((o) => o.kind === 'event' && o.result)).toEqual(['stored', 'stored']);
    });

    it('reads one event by its id, its json byte for byte, and null for an unknown one', async () => {
      const store = await ctx.open();
      const e = event(CAM, 'e-000001', T0);
      await store.ingest([e]);
      expect(await store.event(CAM, 'e-000001')).toEqual({ serial: CAM, eventId: 'e-000001', receivedMs: T0, kind: 'integrity-drift', json: e.json });
      expect(await store.event(CAM, 'e-999999')).toBeNull();
      expect(await store.event(CAM2, 'e-000001')).toBeNull();
    });

    it('lists a camera events newest first, up to the limit', async () => {
      const store = await ctx.open();
      await store.ingest([event(CAM, 'e-1', T0 + 1), event(CAM, 'e-2', T0 + 3), event(CAM, 'e-3', T0 + 2), event(CAM2, 'e-4', T0 + 9)]);
      expect((await store.events(CAM, 2)).map((e) => e.eventId)).toEqual(['e-2', 'e-3']);
    });

    it('lists the newest events of every camera first, up to the limit', async () => {
      const store = await ctx.open();
      await store.ingest([event(CAM, 'e-1', T0 + 1), event(CAM2, 'e-2', T0 + 5), event(CAM, 'e-3', T0 + 3)]);
      expect((await store.recentEvents(2)).map((e) => `${e.serial}/${e.eventId}`)).toEqual([`${CAM2}/e-2`, `${CAM}/e-3`]);
    });
  });

  describe('quarantine', () => {
    it('stores quarantined items of a batch beside the valid ones', async () => {
      const store = await ctx.open();
      const out = await store.ingest([quarantined(T0, 'schema'), report(CAM, 1), quarantined(T0 + 1, 'too-large')]);
      expect(out.map((o) => o.kind)).toEqual(['quarantine', 'report', 'quarantine']);
      expect(out[0]).toEqual({ kind: 'quarantine', result: 'quarantined' });
      expect((await store.quarantined(10)).map((q) => q.reason)).toEqual(['too-large', 'schema']);
      expect(await store.history(CAM, 10)).toHaveLength(1);
    });

    it('stores one quarantined message on its own and lists the newest first, up to the limit', async () => {
      const store = await ctx.open();
      await store.quarantine(quarantineRow(T0, 'first'));
      await store.quarantine(quarantineRow(T0, 'second', null));
      await store.quarantine(quarantineRow(T0, 'third'));
      const rows = await store.quarantined(2);
      expect(rows.map((q) => q.reason)).toEqual(['third', 'second']);
      const { id, ...rest } = rows[1];
      expect(typeof id).toBe('number');
      expect(rest).toEqual({ receivedMs: T0, topic: 'axis/x/report', serial: null, reason: 'second', size: 12, excerpt: '{"seq":"one"' });
    });
  });
}
