/**
 * Commands that could hide a problem leave a trace (issue 15 item 5): rebaseline and set-interval each
 * queue an event on `<prefix>/<serial>/event` saying what changed, and set-interval is bounded.
 * FakeHost (manual clock, in-memory flash) against a real Aedes in process (test/helpers/agent-harness.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL } from '../../test/helpers/agent-harness';
import { assertValidEvent } from '../../test/helpers/schemas';

let h: AgentHarness;

afterEach(async () => {
  await h?.close();
});

async function started(): Promise<AgentHarness> {
  h = new AgentHarness();
  return h.startUntilFirstReport();
}

const events = () => h.json('event') as Array<Record<string, any>>;
const results = () => h.json('cmd-result') as Array<Record<string, any>>;
const soon = { stepMs: 10 };

describe('events from commands', () => {
  it('publishes a rebaseline event naming the planted file the new baseline absorbs', async () => {
    await started();
    h.fake.addFile('/usr/bin/.implant', '#!/bin/sh\n');
    await h.until('the drift event', () => events().some((e) => e.kind === 'integrity-drift'));
    await h.command('rebaseline', '{"id":"rb1"}');
    const e = await h.until('the rebaseline event', () => events().find((x) => x.kind === 'rebaseline'));
    assertValidEvent(e);
    expect(e).toMatchObject({ deviceId: SERIAL, kind: 'rebaseline', severity: 'high', details: { differed: ['added /usr/bin/.implant'], differedCount: 1, commandId: 'rb1' } });
    expect(e.details.files).toBeGreaterThan(0);
  });

  it('publishes a rebaseline event of medium severity when nothing differed', async () => {
    await started();
    await h.command('rebaseline', '{"id":"rb2"}');
    const e = await h.until('the rebaseline event', () => events().find((x) => x.kind === 'rebaseline'));
    expect(e).toMatchObject({ severity: 'medium', details: { differed: [], differedCount: 0, commandId: 'rb2' } });
  });

  it('publishes an interval-changed event with the old and new seconds and the command id', async () => {
    await started();
    const before = h.reports()[0].intervalSec;
    await h.command('set-interval', '{"id":"si1","intervalSec":60}');
    const e = await h.until('the interval event', () => events().find((x) => x.kind === 'interval-changed'));
    assertValidEvent(e);
    expect(e).toMatchObject({ kind: 'interval-changed', details: { oldSec: before, newSec: 60, commandId: 'si1' } });
  });

  it('refuses an interval of a day, keeping the camera from looking online between reports', async () => {
    await started();
    await h.command('set-interval', '{"id":"si2","intervalSec":86400}');
    const r = await h.until('the result', () => results().find((x) => x.id === 'si2'), soon);
    expect(r).toMatchObject({ ok: false, code: 'EINVAL', error: 'intervalSec must be an integer from 10 to 3600' });
    expect(events().filter((x) => x.kind === 'interval-changed')).toHaveLength(0);
  });

  it('does not run a set-interval retained on the broker before the agent connected (docs/delivery.md)', async () => {
    h = new AgentHarness();
    await h.startBroker();
    // What anyone with write access could leave waiting for the camera's next connect.
    await h.command('set-interval', '{"id":"kept1","intervalSec":60}', { retain: true });
    h.start();
    await h.until('the first report', () => h.reports().length >= 1);
    await h.until('the retained command refused', () => h.logs('warn').find((m) => /ignored a retained set-interval command/.test(m)));
    await h.until('a second report', () => h.reports().length >= 2);
    expect(results().filter((r) => r.id === 'kept1')).toEqual([]);
    expect(events().filter((x) => x.kind === 'interval-changed')).toEqual([]);
    expect(h.reports().map((r) => r.intervalSec)).not.toContain(60);
  });
});
