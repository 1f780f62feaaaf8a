/**
 * Signed commands (issue 15, commands that can be trusted): with a CommandKey the agent runs a state-changing
 * command only when the fleet signed it for this camera, this command and these arguments, with a counter above
 * the last one it took (kept on flash across restarts). FakeHost (manual clock, in-memory flash, the P-256
 * verification of agent/test/p256.ts) against a real Aedes in process (test/helpers/agent-harness.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness, SERIAL } from '../../test/helpers/agent-harness';
import { signedPayload, testCommandKey } from '../../test/helpers/command-keys';
import { createCommandSigner } from '../../fleet/src/command-signing';

let h: AgentHarness;

afterEach(async () => {
  await h?.close();
});

const key = testCommandKey();
const sign = createCommandSigner(key.privateKeyPem);

async function started(config: Record<string, string> = { CommandKey: key.publicKey }): Promise<AgentHarness> {
  h = new AgentHarness({ config });
  return h.startUntilFirstReport();
}

const results = () => h.json('cmd-result') as Array<Record<string, any>>;
const resultOf = (id: string) => h.until(`the result of ${id}`, () => results().find((x) => x.id === id), { stepMs: 10 });
const send = (name: string, body: Record<string, unknown>, serial = SERIAL) => h.command(name, JSON.stringify(sign(serial, name, body)));
const intervalEvents = () => h.json('event').filter((e) => e.kind === 'interval-changed');

describe('signed commands', () => {
  it('runs a set-interval the fleet signed for this camera', async () => {
    await started();
    await send('set-interval', { id: 's1', intervalSec: 60 });
    expect(await resultOf('s1')).toMatchObject({ ok: true, result: { intervalSec: 60 } });
  });

  it('refuses an unsigned set-interval with EPERM once a CommandKey is configured, and logs the refusal once', async () => {
    await started();
    await h.command('set-interval', '{"id":"u1","intervalSec":60}');
    expect(await resultOf('u1')).toMatchObject({ ok: false, code: 'EPERM', error: expect.stringMatching(/^set-interval must be signed/) });
    expect(h.logs('warn').filter((m) => m.includes('u1'))).toEqual([expect.stringMatching(/^\[vigil\] \[cmd\] set-interval u1 refused: EPERM /)]);
    expect(intervalEvents()).toHaveLength(0);
  });

  it('refuses an unsigned rebaseline and rebirth, but runs an unsigned report-now', async () => {
    await started();
    await h.command('rebaseline', '{"id":"u2"}');
    await h.command('rebirth', '{"id":"u3"}');
    await h.command('report-now', '{"id":"u4"}');
    expect(await resultOf('u2')).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await resultOf('u3')).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await resultOf('u4')).toMatchObject({ ok: true });
  });

  it('refuses a command signed for another camera with ESIGNATURE', async () => {
    await started();
    await send('set-interval', { id: 'w1', intervalSec: 60 }, 'B8A44F000001');
    expect(await resultOf('w1')).toMatchObject({ ok: false, code: 'ESIGNATURE' });
  });

  it('refuses a signed set-interval whose intervalSec was changed after signing', async () => {
    await started();
    const signed = sign(SERIAL, 'set-interval', { id: 't1', intervalSec: 60 });
    await h.command('set-interval', JSON.stringify({ ...signed, intervalSec: 3600 }));
    expect(await resultOf('t1')).toMatchObject({ ok: false, code: 'ESIGNATURE' });
    expect(intervalEvents()).toHaveLength(0);
  });

  it('refuses a signature made for another command name', async () => {
    await started();
    await h.command('rebirth', JSON.stringify(sign(SERIAL, 'rebaseline', { id: 'n1' })));
    expect(await resultOf('n1')).toMatchObject({ ok: false, code: 'ESIGNATURE' });
  });

  it('refuses a command whose counter is not above the last one taken (EREPLAY)', async () => {
    await started();
    await h.command('set-interval', signedPayload(key.privateKeyPem, SERIAL, 'set-interval', { id: 'r1', intervalSec: 60 }, 5000));
    expect(await resultOf('r1')).toMatchObject({ ok: true });
    await h.command('rebaseline', signedPayload(key.privateKeyPem, SERIAL, 'rebaseline', { id: 'r2' }, 5000));
    await h.command('rebirth', signedPayload(key.privateKeyPem, SERIAL, 'rebirth', { id: 'r3' }, 4999));
    expect(await resultOf('r2')).toMatchObject({ ok: false, code: 'EREPLAY' });
    expect(await resultOf('r3')).toMatchObject({ ok: false, code: 'EREPLAY' });
  });

  it('refuses the very same signed command replayed after a restart: the counter is kept on flash', async () => {
    await started();
    const payload = JSON.stringify(sign(SERIAL, 'set-interval', { id: 'p1', intervalSec: 60 }));
    await h.command('set-interval', payload);
    expect(await resultOf('p1')).toMatchObject({ ok: true });
    await h.agent?.stop();
    h.received.length = 0;
    h.start();
    await h.until('a report after the restart', () => h.reports().length >= 1);
    await h.command('set-interval', payload);
    expect(await resultOf('p1')).toMatchObject({ ok: false, code: 'EREPLAY' });
  });

  it('refuses a malformed sig with ESIGNATURE', async () => {
    await started();
    await h.command('rebaseline', JSON.stringify({ id: 'm1', sig: { ctr: 1, value: 'not base64!' } }));
    await h.command('rebaseline', JSON.stringify({ id: 'm2', sig: { ctr: -1, value: 'AAAA' } }));
    expect(await resultOf('m1')).toMatchObject({ ok: false, code: 'ESIGNATURE', error: 'sig.value must be base64' });
    expect(await resultOf('m2')).toMatchObject({ ok: false, code: 'ESIGNATURE', error: 'sig.ctr must be a positive integer' });
  });

  it('runs unsigned commands as before when no CommandKey is configured', async () => {
    await started({});
    await h.command('set-interval', '{"id":"n2","intervalSec":60}');
    expect(await resultOf('n2')).toMatchObject({ ok: true });
  });
});
