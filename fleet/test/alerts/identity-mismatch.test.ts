// identity-mismatch (issue 15, forgery-resistant accounting): a report that disagrees with the camera's identity
// so far is refused and alerts; it never overwrites the identity. Real SQLite store, the consumer fed directly.
import { afterEach, describe, expect, it } from 'vitest';
import type { Report } from '../../../agent/src/report/types';
import { makeReport } from '../fixtures';
import { alertRig, type AlertRig } from './setup';

let rig: AlertRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const withHardwareId = (r: Report, hardwareId: string): Report => ({ ...r, device: { ...r.device, hardwareId } });

describe('identity-mismatch', () => {
  it('raises a high alert for a report claiming another model, and keeps the camera as it was', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', seq: 1 }));
    expect(await rig.report(makeReport({ serial: 'CAM1', seq: 2, model: 'Q6135-LE' }))).toEqual({ result: 'refused', reason: 'identity' });
    const raised = (await rig.stored()).filter((a) => a.kind === 'identity-mismatch');
    expect(raised.map((a) => [a.serial, a.severity, a.condition.startsWith('identity-mismatch:'), a.details.claimed, a.details.known])).toEqual([
      ['CAM1', 'high', true, { model: 'Q6135-LE', hardwareId: '9A1' }, { model: 'M3086-V', hardwareId: '9A1' }],
    ]);
    expect([rig.consumer.camera('CAM1')?.model, rig.consumer.camera('CAM1')?.lastSeq, rig.consumer.camera('CAM1')?.report?.device.model]).toEqual(['M3086-V', 1, 'M3086-V']);
    expect((await rig.store.loadCameras()).map((c) => [c.model, c.hardwareId, c.refused])).toEqual([['M3086-V', '9A1', 1]]);
  });

  it('raises it once for the same claim repeated, and again for another claim', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', seq: 1 }));
    await rig.report(makeReport({ serial: 'CAM1', seq: 2, model: 'Q6135-LE' }));
    await rig.report(makeReport({ serial: 'CAM1', seq: 3, model: 'Q6135-LE' }));
    await rig.report(withHardwareId(makeReport({ serial: 'CAM1', seq: 4 }), '7B2'));
    const raised = (await rig.stored()).filter((a) => a.kind === 'identity-mismatch');
    expect(raised.map((a) => a.details.claimed)).toEqual([{ model: 'Q6135-LE', hardwareId: '9A1' }, { model: 'M3086-V', hardwareId: '7B2' }]);
    expect(rig.consumer.counters.refused).toEqual({ identity: 3 });
  });

  it('raises nothing for a report of the same identity, or one that does not say its model', async () => {
    rig = await alertRig();
    await rig.report(makeReport({ serial: 'CAM1', seq: 1 }));
    await rig.report(makeReport({ serial: 'CAM1', seq: 2 }));
    const unsaid = makeReport({ serial: 'CAM1', seq: 3 });
    expect(await rig.report({ ...unsaid, device: { ...unsaid.device, model: null } })).toMatchObject({ result: 'stored' });
    expect((await rig.stored()).filter((a) => a.kind === 'identity-mismatch')).toEqual([]);
    expect(rig.consumer.camera('CAM1')?.model).toBe('M3086-V');
  });
});
