// Commands from the broker under hostile input (issue 7, ROBUSTNESS.md). parseCommand (commands.ts) is
// checked directly with many cases: random names, bytes and JSON, valid commands with one field made
// hostile, the size limit, invalid UTF-8. Then fewer cases end to end through the agent on a FakeHost and a
// real Aedes (test/helpers/agent-harness.ts): each command is answered, refused ones change nothing, a
// flood runs once per rate-limit gap, and the agent keeps reporting.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentHarness } from '../../test/helpers/agent-harness';
import { check, checkAsync, seeds } from '../../test/helpers/fc-seed';
import { COMMAND_MAX_BYTES, COMMAND_MIN_GAP_MS, parseCommand } from './commands';

const KNOWN = Object.keys(COMMAND_MIN_GAP_MS);
const CODES = ['E2BIG', 'EINVAL', 'EUNKNOWN'];
const enc = (s: string) => new Uint8Array(Buffer.from(s));
/** Names Object.prototype answers to: a lookup by name must not find them. */
const PROTO_NAMES = [...Object.getOwnPropertyNames(Object.prototype), 'prototype'];

const idArb = fc.stringMatching(/^[\w.:-]{1,64}$/);
const correlationArb = fc.option(fc.string({ unit: 'binary', maxLength: 64 }), { nil: null });
const ws = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');

/** A valid command: name, its JSON object (as text, with random whitespace), and what it must parse to. */
const validCommand = fc
  .record({ name: fc.constantFrom(...KNOWN), id: fc.option(idArb, { nil: undefined }), sec: fc.integer({ min: 10, max: 3600 }), pad: ws, empty: fc.boolean() })
  .map(({ name, id, sec, pad, empty }) => {
    const body: Record<string, unknown> = {};
    if (id !== undefined) body.id = id;
    if (name === 'set-interval') body.intervalSec = sec;
    const text = empty && !Object.keys(body).length ? pad : `${pad}${JSON.stringify(body, null, pad ? 1 : 0)}${pad}`;
    return { name, text, id, intervalSec: name === 'set-interval' ? sec : undefined };
  });

/** Values that are never a valid id or interval, as raw JSON text. */
const hostileValue = fc.oneof(
  fc.constantFrom(
    'null', 'true', '[]', '{}', '""', '-1', '0', '-0', '0.5', '86401', '1e308', '-1e308', '1e400', '-1e400', '9007199254740993', '"60"', '[60]', '{"valueOf":60}',
    '"a b"', '"\\u0000"', '"\\ud800"', '"../../etc"', `"${'x'.repeat(65)}"`, '{"__proto__":{"polluted":true}}',
  ),
  fc.integer({ min: 1, max: 400 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 86401, max: Number.MAX_SAFE_INTEGER }).map(String),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }).map(String),
  fc.double({ noNaN: true, noInteger: true }).filter(Number.isFinite).map(String),
);
/** Keys no command takes (a hostile one added beside valid fields). */
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'ID', 'interval', 'intervalsec', ''),
  fc.string({ maxLength: 40 }).filter((k) => k !== 'id' && k !== 'intervalSec'),
);

/** A valid command with one thing made hostile; every one must be refused. */
const hostileCommand = fc.oneof(
  // id of a wrong type or shape
  fc.tuple(fc.constantFrom(...KNOWN), hostileValue.filter((v) => !/^"[\w.:-]{1,64}"$/.test(v))).map(([name, v]) => ({ name, text: `{"id":${v}${name === 'set-interval' ? ',"intervalSec":60' : ''}}`, field: 'id must be' })),
  // intervalSec of a wrong type or out of range (or missing)
  fc.tuple(idArb, fc.option(hostileValue, { nil: undefined })).map(([id, v]) => ({ name: 'set-interval', text: v === undefined ? `{"id":"${id}"}` : `{"id":"${id}","intervalSec":${v}}`, field: 'intervalSec must be' })),
  // an extra field, prototype keys included (raw text, so JSON.parse makes them own properties)
  fc.tuple(fc.constantFrom(...KNOWN), idArb, hostileKey, hostileValue).map(([name, id, k, v]) => ({
    name,
    text: `{"id":"${id}",${JSON.stringify(k)}:${v}${name === 'set-interval' ? ',"intervalSec":60' : ''}}`,
    field: 'unknown field',
  })),
  // intervalSec on a command that takes none
  fc.tuple(fc.constantFrom('report-now', 'rebirth', 'rebaseline'), fc.integer({ min: 10, max: 3600 })).map(([name, s]) => ({ name, text: `{"intervalSec":${s}}`, field: 'unknown field "intervalSec"' })),
  // unknown names, Object.prototype's among them
  fc.tuple(fc.oneof(fc.constantFrom(...PROTO_NAMES), fc.stringMatching(/^[a-zA-Z0-9_.-]{1,30}$/).filter((n) => !KNOWN.includes(n))), idArb).map(([name, id]) => ({ name, text: `{"id":"${id}"}`, field: 'unknown command' })),
  // not a JSON object
  fc.tuple(fc.constantFrom(...KNOWN), fc.oneof(fc.json({ maxDepth: 3 }).filter((j) => !j.trim().startsWith('{')), fc.constantFrom('{', '{"id":', '{"id":"a"', 'nul', '\u0000', '{}{}'))).map(([name, text]) => ({
    name,
    text,
    field: 'must be a JSON object',
  })),
  // over the size limit, valid JSON otherwise
  fc.tuple(fc.constantFrom(...KNOWN), fc.integer({ min: COMMAND_MAX_BYTES + 1, max: 64 * 1024 })).map(([name, n]) => ({ name, text: `{"id":"big"}${' '.repeat(n - 12)}`, field: 'over the limit' })),
);

describe('parseCommand', () => {
  it.each(seeds(901))('any name, bytes and correlation id give a refusal with a known code or a command it knows (%s)', (_l, seed) => {
    const payload = fc.oneof(fc.uint8Array({ maxLength: 1100 }), fc.json({ maxDepth: 4 }).map(enc), fc.anything({ maxDepth: 3 }).map((v) => enc(JSON.stringify(v) ?? '')));
    const name = fc.oneof(fc.string({ unit: 'binary', maxLength: 70 }), fc.constantFrom(...KNOWN, ...PROTO_NAMES));
    check(
      fc.property(name, payload, correlationArb, (n, p, corr) => {
        const r = parseCommand(n, p, corr);
        if (r.code) {
          expect(CODES).toContain(r.code);
          expect(typeof r.error).toBe('string');
          expect(r.error?.length).toBeLessThan(300);
        } else {
          expect(KNOWN).toContain(n);
          expect(p.length).toBeLessThanOrEqual(COMMAND_MAX_BYTES);
          if (n === 'set-interval') expect(Number.isInteger(r.intervalSec) && (r.intervalSec as number) >= 10 && (r.intervalSec as number) <= 3600).toBe(true);
          else expect(r.intervalSec).toBeUndefined();
        }
        expect(r.id === null || r.id === corr || /^[\w.:-]{1,64}$/.test(r.id)).toBe(true);
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(902))('a valid command parses exactly: its id (else the correlation id) and its interval (%s)', (_l, seed) => {
    check(
      fc.property(validCommand, correlationArb, (c, corr) => {
        // body: the payload as sent, for the signature check
        const { body, ...parsed } = parseCommand(c.name, enc(c.text), corr);
        expect(parsed).toEqual({ id: c.id ?? corr, intervalSec: c.intervalSec });
        expect(body).toEqual(JSON.parse(c.text.trim() || '{}'));
      }),
      seed,
      1000,
    );
  });

  it.each(seeds(903))('a valid command with one field hostile is refused, naming what is wrong (%s)', (_l, seed) => {
    check(
      fc.property(hostileCommand, (c) => {
        const r = parseCommand(c.name, enc(c.text), null);
        expect(r.code, c.text.slice(0, 200)).toBeDefined();
        expect(r.error).toContain(c.field);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(904))('the size limit: a valid payload padded to N bytes is taken up to 1024 and refused E2BIG above (%s)', (_l, seed) => {
    check(
      fc.property(validCommand, fc.integer({ min: 0, max: 2 * COMMAND_MAX_BYTES }), (c, n) => {
        const body = Buffer.from(c.text.trim() || '{}');
        const padded = n > body.length ? Buffer.concat([body, Buffer.alloc(n - body.length, 0x20)]) : body;
        const { body: _body, ...r } = parseCommand(c.name, new Uint8Array(padded), null);
        if (padded.length <= COMMAND_MAX_BYTES) expect(r).toEqual({ id: c.id ?? null, intervalSec: c.intervalSec });
        else expect(r).toMatchObject({ code: 'E2BIG', error: `command payload is ${padded.length} bytes, over the limit of 1024` });
      }),
      seed,
      500,
    );
  });

  it.each(seeds(905))('invalid UTF-8 anywhere in a valid payload is refused EINVAL (%s)', (_l, seed) => {
    const bad = fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf4, 0x90, 0x80, 0x80]);
    check(
      fc.property(validCommand.filter((c) => c.id !== undefined), bad, fc.nat(), (c, b, at) => {
        // Inside the id, or between tokens: never decoded into something that passes.
        const text = Buffer.from(c.text.trim());
        const cut = text.indexOf('"id":"') + 6 + (at % (c.id as string).length);
        const bytes = Buffer.concat([text.subarray(0, cut), Buffer.from(b), text.subarray(cut)]);
        expect(parseCommand(c.name, new Uint8Array(bytes), null)).toMatchObject({ code: 'EINVAL' });
      }),
      seed,
      300,
    );
  });

  it('prototype-command-name-runs-rebirth: a name Object.prototype knows is an unknown command', () => {
    for (const name of PROTO_NAMES) expect(parseCommand(name, enc('{"id":"p1"}'), null), name).toMatchObject({ id: 'p1', code: 'EUNKNOWN' });
  });

  it('answers an unknown command as unknown even with fields, and keeps the request id', () => {
    expect(parseCommand('reboot', enc('{"id":"u1","force":true}'), null)).toMatchObject({ id: 'u1', code: 'EUNKNOWN', error: expect.stringContaining('unknown command "reboot"') });
  });

  it('keeps the correlation id on a refusal whose payload has no readable id', () => {
    expect(parseCommand('report-now', enc('{"id":'), 'corr-1')).toMatchObject({ id: 'corr-1', code: 'EINVAL' });
  });

  it('refuses JSON nested as deep as 1 KiB allows without throwing', () => {
    expect(parseCommand('report-now', enc('['.repeat(512) + ']'.repeat(512)), null)).toMatchObject({ code: 'EINVAL' });
    expect(parseCommand('report-now', enc('{"a":'.repeat(150) + '1' + '}'.repeat(150)), null)).toMatchObject({ code: 'EINVAL', error: 'unknown field "a" for report-now' });
  });
});

describe('commands through the agent', () => {
  let h: AgentHarness;
  afterEach(async () => {
    await h?.close();
  });
  const results = () => h.json('cmd-result');
  const soon = { stepMs: 10 };

  async function started(): Promise<AgentHarness> {
    h = new AgentHarness();
    return h.startUntilFirstReport();
  }

  it.each(seeds(906))('hostile commands are each refused with a reply, change nothing, and the agent keeps reporting (%s)', async (_l, seed) => {
    await started();
    const batch = fc.sample(hostileCommand, { seed, numRuns: 30 });
    for (const c of batch) await h.command(c.name, Buffer.from(c.text));
    await h.until('a reply to each', () => results().length >= batch.length, soon);
    expect(results()).toHaveLength(batch.length);
    for (const [i, r] of results().entries()) {
      expect(r, batch[i].text.slice(0, 200)).toMatchObject({ ok: false });
      expect(CODES).toContain(r.code);
    }
    expect(h.json('state').filter((s) => s.reason === 'rebirth')).toHaveLength(0);
    expect(h.logs().some((m) => /by command/.test(m))).toBe(false);
    // Still reporting on its configured 10 s, and still taking a valid command.
    const before = h.reports().length;
    await h.until('the next reports', () => h.reports().length >= before + 2, { stepMs: 1000 });
    expect(h.reports().at(-1)?.intervalSec).toBe(10);
    await h.command('set-interval', '{"id":"after","intervalSec":60}');
    await h.until('the valid command ran', () => results().some((r) => r.id === 'after'), soon);
    expect(results().find((r) => r.id === 'after')).toMatchObject({ ok: true, result: { intervalSec: 60 } });
  });

  it.each(seeds(907))('a flood of set-interval commands runs the first only, refuses the rest ERATE, and the interval is the first one (%s)', async (_l, seed) => {
    await started();
    const secs = fc.sample(fc.integer({ min: 20, max: 3600 }), { seed, numRuns: 40 });
    for (const [i, s] of secs.entries()) await h.command('set-interval', JSON.stringify({ id: `f${i}`, intervalSec: s }));
    await h.until('a reply to each', () => results().length >= secs.length, soon);
    const ok = results().filter((r) => r.ok);
    expect(ok).toEqual([expect.objectContaining({ id: 'f0', result: { intervalSec: secs[0] } })]);
    expect(results().filter((r) => r.code === 'ERATE')).toHaveLength(secs.length - 1);
    const state = JSON.parse(Buffer.from(await h.fake.fs.readFile('/data/state.json', 1 << 16)).toString());
    expect(state.interval.sec).toBe(secs[0]);
  });

  it('prototype-command-name-runs-rebirth: cmd/constructor, cmd/__proto__ and cmd/toString are unknown commands and run nothing', async () => {
    await started();
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) await h.command(name, `{"id":"${name.replace(/_/g, 'u')}"}`);
    await h.until('four replies', () => results().length >= 4, soon);
    for (const r of results()) expect(r).toMatchObject({ ok: false, code: 'EUNKNOWN' });
    await h.run(2000, 100);
    expect(h.json('state').filter((s) => s.reason === 'rebirth')).toHaveLength(0);
  });

  it('refused-command-id-replayed: a command refused ERATE runs when sent again with the same id after the gap', async () => {
    await started();
    await h.command('set-interval', '{"id":"r1","intervalSec":30}');
    await h.until('the first result', () => results().length >= 1, soon);
    await h.command('set-interval', '{"id":"r2","intervalSec":40}');
    await h.until('the refusal', () => results().length >= 2, soon);
    expect(results()[1]).toMatchObject({ id: 'r2', code: 'ERATE' });
    await h.run(10_000, 500);
    await h.command('set-interval', '{"id":"r2","intervalSec":40}');
    await h.until('the retry result', () => results().length >= 3, soon);
    expect(results()[2]).toMatchObject({ id: 'r2', ok: true, result: { intervalSec: 40 } });
  });

  it('takes a payload of exactly 1024 bytes and refuses one of 1025 with E2BIG', async () => {
    await started();
    const at = (n: number, id: string) => `{"id":"${id}"}`.padEnd(n, ' ');
    await h.command('report-now', at(1024, 'l1'));
    await h.command('rebirth', at(1025, 'l2'));
    await h.until('two results', () => results().length >= 2, soon);
    expect(results().find((r) => r.command === 'report-now')).toMatchObject({ id: 'l1', ok: true });
    expect(results().find((r) => r.command === 'rebirth')).toMatchObject({ ok: false, code: 'E2BIG' });
  });

  it('refuses a payload of invalid UTF-8 and random bytes, and keeps reporting', async () => {
    await started();
    await h.command('report-now', Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    await h.command('rebaseline', Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) & 0xff)));
    await h.until('two results', () => results().length >= 2, soon);
    for (const r of results()) expect(r).toMatchObject({ ok: false, code: 'EINVAL' });
    const before = h.reports().length;
    await h.until('the next report', () => h.reports().length > before, { stepMs: 1000 });
  });
});
