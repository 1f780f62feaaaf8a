// Hostile /proc/net/{tcp,tcp6,udp,udp6} tables (issue 7, ROBUSTNESS.md). Fixed seed plus a printed random one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, checkAsync, seeds } from '../../../../test/helpers/fc-seed';
import { FakeHost } from '../../../test/fake-host';
import { decodeAddress, parseSocketTable, readListeningSockets } from './sockets';

const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, '0');
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

/** A kernel-style row: little-endian words, as an Axis SoC prints them. */
const rowArb = (v6: boolean) =>
  fc.record({
    addr: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: v6 ? 16 : 4, maxLength: v6 ? 16 : 4 }),
    port: fc.integer({ min: 0, max: 65535 }),
    remPort: fc.integer({ min: 0, max: 65535 }),
    state: fc.integer({ min: 1, max: 12 }),
  });

function wordsLE(bytes: number[]): string {
  let out = '';
  for (let w = 0; w < bytes.length; w += 4) for (let j = 3; j >= 0; j--) out += hex(bytes[w + j], 2);
  return out;
}

describe('/proc/net tables under hostile input', () => {
  it.each(seeds(751))('any text gives rows and malformed lines, never an exception (%s)', (_l, seed) => {
    check(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), fc.constantFrom('tcp', 'tcp6', 'udp', 'udp6'), (text, proto) => {
        const { rows } = parseSocketTable(text, proto as 'tcp');
        for (const r of rows) expect(r.port >= 0 && r.port <= 65535).toBe(true);
      }),
      seed,
      2000,
    );
  });

  it.each(seeds(752))('well-formed rows give exactly the listening sockets with their address and port (%s)', (_l, seed) => {
    check(
      fc.property(fc.boolean(), fc.boolean(), fc.array(rowArb(false), { maxLength: 8 }), fc.array(rowArb(true), { maxLength: 8 }), (tcp, crlf, rows4, rows6) => {
        const v6 = rows6.length > rows4.length;
        const rows = v6 ? rows6 : rows4;
        const proto = (tcp ? 'tcp' : 'udp') + (v6 ? '6' : '');
        const text =
          HEADER +
          rows.map((r, i) => `${String(i).padStart(4)}: ${wordsLE(r.addr)}:${hex(r.port, 4)} ${wordsLE(r.addr.map(() => 0))}:${hex(r.remPort, 4)} ${hex(r.state, 2)} 00000000:00000000 00:00000000 00000000     0        0 1234 1`).join(crlf ? '\r\n' : '\n');
        const { rows: got, bad } = parseSocketTable(text, proto as 'tcp');
        expect(bad).toEqual([]);
        const listening = rows.filter((r) => (tcp ? r.state === 10 : r.state === 7 && r.remPort === 0));
        expect(got.map((g) => g.port)).toEqual(listening.map((r) => r.port));
        for (const [i, g] of got.entries()) {
          if (!v6) expect(g.address).toBe(listening[i].addr.join('.'));
          else expect(g.address).toMatch(/^[0-9a-f:.]+$/);
        }
      }),
      seed,
      500,
    );
  });

  it.each(seeds(753))('every 32-digit address decodes to a valid IPv6 text that Node reads back to the same bytes (%s)', (_l, seed) => {
    check(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }), fc.nat(8), (bytes, zeros) => {
        for (let i = 0; i < zeros * 2 && i < 16; i++) bytes[(i + zeros) % 16] = 0;
        const text = decodeAddress(wordsLE(bytes));
        const url = new URL(`http://[${text}]/`);
        expect(url.hostname.length).toBeGreaterThan(2);
      }),
      seed,
      1000,
    );
  });

  it.each(seeds(754))('files that are missing, huge, binary or unreadable become collector errors, not a failed report (%s)', async (_l, seed) => {
    await checkAsync(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(null), fc.constant('EACCES'), fc.uint8Array({ maxLength: 300 }), fc.constant('huge')), { minLength: 4, maxLength: 4 }),
        async (files) => {
          const fake = new FakeHost();
          ['tcp', 'tcp6', 'udp', 'udp6'].forEach((name, i) => {
            const f = files[i];
            if (f === null) return;
            if (f === 'EACCES') (fake.addFile(`/proc/net/${name}`, 'x'), fake.makeUnreadable(`/proc/net/${name}`));
            else if (f === 'huge') fake.addFile(`/proc/net/${name}`, new Uint8Array((1 << 20) + 1));
            else fake.addFile(`/proc/net/${name}`, f);
          });
          const { errors } = await readListeningSockets(fake, '/proc/net');
          for (const e of errors) expect(e.collector).toBe('services');
        },
      ),
      seed,
      200,
    );
  });
});
