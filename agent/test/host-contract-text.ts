// The host contract, host.text: UTF-8 and ISO-8859-1 decoding, the UTF-8 check and UTF-8 encoding. The
// expected values are written out (WHATWG's UTF-8 decoder: one U+FFFD per maximal invalid subpart); FakeHost's
// codec is Node's TextDecoder, so every host agrees with Node.
import type { Host } from '../src/host';
import { errorCode } from '../src/util/errors';
import { assert, type ContractCase } from './host-contract-support';

const buf = (...b: number[]): ArrayBuffer => new Uint8Array(b).buffer;
const hex = (data: ArrayBuffer): string => {
  const b = new Uint8Array(data);
  let out = '';
  for (let i = 0; i < b.length; i++) out += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return out;
};
/** Code units, readable in a failure message whatever the string holds. */
const units = (s: string): string => {
  const out: string[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i).toString(16));
  return out.join(' ');
};
const sameText = (actual: string, expected: string, what: string): void => assert.equal(units(actual), units(expected), what);

/** Both directions: the bytes decode to the text, the text encodes to the bytes, and they are well-formed. */
const roundTrip = (host: Host, text: string, bytes: number[], what: string): void => {
  sameText(host.text.decode(buf(...bytes), 'utf-8'), text, `${what}: decode`);
  assert.equal(hex(host.text.encode(text)), hex(buf(...bytes)), `${what}: encode`);
  assert.ok(host.text.isUtf8(buf(...bytes)), `${what}: isUtf8`);
};

const F = 0xfffd;
/** Malformed UTF-8 and what WHATWG decodes it to, one U+FFFD per maximal subpart. */
const INVALID: Array<{ what: string; bytes: number[]; text: number[] }> = [
  { what: 'a lone continuation byte', bytes: [0x41, 0x80, 0x42], text: [0x41, F, 0x42] },
  { what: 'continuation bytes in a row', bytes: [0x80, 0xbf, 0x80], text: [F, F, F] },
  { what: 'C0 and C1 (overlong two-byte leads)', bytes: [0xc0, 0xaf, 0xc1, 0xbf], text: [F, F, F, F] },
  { what: 'F5 to FF (no such lead bytes)', bytes: [0xf5, 0x80, 0xfe, 0xff], text: [F, F, F, F] },
  { what: 'a two-byte sequence cut at the end', bytes: [0x61, 0xc3], text: [0x61, F] },
  { what: 'a three-byte sequence cut at the end', bytes: [0xe2, 0x82], text: [F] },
  { what: 'a four-byte sequence cut at the end', bytes: [0xf0, 0x9f, 0x8e], text: [F] },
  { what: 'a sequence cut by an ASCII byte', bytes: [0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x42], text: [F, 0x41, F, 0x42] },
  { what: 'a lead byte followed by another lead', bytes: [0xc3, 0xc3, 0xa9], text: [F, 0xe9] },
  { what: 'an overlong three-byte form (E0 80..9F)', bytes: [0xe0, 0x80, 0xaf], text: [F, F, F] },
  { what: 'an overlong four-byte form (F0 80..8F)', bytes: [0xf0, 0x80, 0x80, 0x80], text: [F, F, F, F] },
  { what: 'an encoded surrogate (ED A0..BF)', bytes: [0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf], text: [F, F, F, F, F, F] },
  { what: 'a code point past U+10FFFF (F4 90..)', bytes: [0xf4, 0x90, 0x80, 0x80], text: [F, F, F, F] },
  { what: 'a valid sequence right after an invalid one', bytes: [0xe2, 0x28, 0xa1, 0xc3, 0xa9], text: [F, 0x28, F, 0xe9] },
];

const rejectsEinval = (fn: () => unknown, what: string): void => {
  let code: string | null = null;
  try {
    fn();
  } catch (err) {
    code = errorCode(err);
  }
  assert.equal(code, 'EINVAL', what);
};

export const TEXT_CASES: ContractCase[] = [
  {
    name: 'text: ASCII decodes and encodes byte for byte, NUL included',
    async run(host) {
      roundTrip(host, 'root.Network.SSH.Enabled=no\r\n', Array.from('root.Network.SSH.Enabled=no\r\n', (c) => c.charCodeAt(0)), 'ASCII');
      roundTrip(host, 'a\u0000b\u007f', [0x61, 0, 0x62, 0x7f], 'NUL and DEL');
      sameText(host.text.decode(buf(0x61, 0, 0x62), 'iso-8859-1'), 'a\u0000b', 'ISO-8859-1 with NUL');
    },
  },
  {
    name: 'text: two- and three-byte UTF-8 sequences decode and encode',
    async run(host) {
      roundTrip(host, 'Haustür', [0x48, 0x61, 0x75, 0x73, 0x74, 0xc3, 0xbc, 0x72], 'two-byte');
      roundTrip(host, '\u0080\u07ff', [0xc2, 0x80, 0xdf, 0xbf], 'the two-byte bounds');
      roundTrip(host, '€ \u0800\uffff', [0xe2, 0x82, 0xac, 0x20, 0xe0, 0xa0, 0x80, 0xef, 0xbf, 0xbf], 'three-byte and its bounds');
      roundTrip(host, '\ufffd', [0xef, 0xbf, 0xbd], 'a real U+FFFD is well-formed');
    },
  },
  {
    name: 'text: four-byte UTF-8 sequences are surrogate pairs',
    async run(host) {
      roundTrip(host, '\ud83c\udfa5', [0xf0, 0x9f, 0x8e, 0xa5], 'U+1F3A5');
      roundTrip(host, '\ud800\udc00\udbff\udfff', [0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf], 'U+10000 and U+10FFFF');
    },
  },
  {
    name: 'text: a byte order mark is kept, not dropped',
    async run(host) {
      roundTrip(host, '\ufeffx', [0xef, 0xbb, 0xbf, 0x78], 'BOM');
    },
  },
  {
    name: 'text: every class of malformed UTF-8 decodes to one U+FFFD per maximal subpart and is not well-formed',
    async run(host) {
      for (const c of INVALID) {
        sameText(host.text.decode(buf(...c.bytes), 'utf-8'), String.fromCharCode(...c.text), c.what);
        assert.equal(host.text.isUtf8(buf(...c.bytes)), false, `${c.what}: isUtf8`);
      }
    },
  },
  {
    name: 'text: a lone surrogate encodes as U+FFFD',
    async run(host) {
      const fffd = 'efbfbd';
      assert.equal(hex(host.text.encode('a\ud800b')), `61${fffd}62`, 'a lone high surrogate');
      assert.equal(hex(host.text.encode('\udc00')), fffd, 'a lone low surrogate');
      assert.equal(hex(host.text.encode('x\ud83c')), `78${fffd}`, 'a high surrogate at the end');
      assert.equal(hex(host.text.encode('\udfa5\ud83c')), fffd + fffd, 'a pair in the wrong order');
    },
  },
  {
    name: 'text: ISO-8859-1 maps every byte 0x80-0xFF to the code point of the same number',
    async run(host) {
      const all: number[] = [];
      for (let b = 0; b < 256; b++) all.push(b);
      const decoded = host.text.decode(buf(...all), 'iso-8859-1');
      assert.equal(decoded.length, 256, 'one character per byte');
      for (let b = 0; b < 256; b++) assert.equal(decoded.charCodeAt(b), b, `byte ${b.toString(16)}`);
      sameText(host.text.decode(buf(0x45, 0x6e, 0x74, 0x72, 0xe9, 0x65), 'iso-8859-1'), 'Entrée', 'Entrée');
      sameText(host.text.decode(buf(0x46, 0x75, 0xdf, 0x67, 0xe4, 0x6e, 0x67, 0x65, 0x72), 'iso-8859-1'), 'Fußgänger', 'Fußgänger');
    },
  },
  {
    name: 'text: empty input gives an empty string and an empty buffer',
    async run(host) {
      sameText(host.text.decode(new ArrayBuffer(0), 'utf-8'), '', 'UTF-8');
      sameText(host.text.decode(new ArrayBuffer(0), 'iso-8859-1'), '', 'ISO-8859-1');
      assert.ok(host.text.isUtf8(new ArrayBuffer(0)), 'isUtf8');
      const e = host.text.encode('');
      assert.ok(e instanceof ArrayBuffer, 'encode returns an ArrayBuffer');
      assert.equal(e.byteLength, 0, 'encode length');
    },
  },
  {
    name: 'text: offset and length read a part of the buffer; a range outside it is EINVAL',
    async run(host) {
      const data = buf(0x78, 0xc3, 0xbc, 0x79, 0xe9);
      sameText(host.text.decode(data, 'utf-8', 1, 2), 'ü', 'the middle');
      sameText(host.text.decode(data, 'utf-8', 3), 'y\ufffd', 'from an offset to the end');
      sameText(host.text.decode(data, 'iso-8859-1', 4, 1), 'é', 'ISO-8859-1, the last byte');
      sameText(host.text.decode(data, 'utf-8', 5, 0), '', 'an empty range at the end');
      assert.ok(host.text.isUtf8(data, 0, 4), 'isUtf8 of a well-formed part');
      assert.equal(host.text.isUtf8(data, 2, 1), false, 'isUtf8 of a cut part');
      rejectsEinval(() => host.text.decode(data, 'utf-8', 4, 2), 'decode past the end');
      rejectsEinval(() => host.text.decode(data, 'utf-8', -1, 1), 'a negative offset');
      rejectsEinval(() => host.text.isUtf8(data, 6), 'isUtf8 from past the end');
      rejectsEinval(() => host.text.decode(data, 'utf-16' as 'utf-8'), 'an unknown encoding');
    },
  },
  {
    name: 'text: a large input (half a megabyte) round-trips within the CPU budget of a slice, under qemu too',
    async run(host) {
      const unit = 'Fußgängerüberweg 🎥 €; ';
      let text = unit;
      while (text.length < 1 << 18) text += text;
      const encoded = host.text.encode(text);
      // 23 UTF-16 units: 17 ASCII (1 byte each), 3 two-byte, 1 three-byte, 1 pair (4 bytes): 30 bytes.
      assert.equal(encoded.byteLength, (text.length / unit.length) * 30, 'encoded length');
      assert.ok(host.text.isUtf8(encoded), 'isUtf8');
      assert.ok(host.text.decode(encoded, 'utf-8') === text, 'decodes back to the same text');
      // A new slice for the second half: under qemu the whole case would run over a slice's CPU budget.
      await new Promise<void>((resolve) => host.clock.setTimer(0, resolve));
      // Filled by doubling (a copy per step): a loop per byte would cost the engine more than the decoding.
      const latin = new Uint8Array(1 << 19);
      for (let i = 0; i < 256; i++) latin[i] = (i * 7 + 0x80) & 0xff;
      for (let n = 256; n < latin.length; n *= 2) latin.copyWithin(n, 0, n);
      const decoded = host.text.decode(latin.buffer, 'iso-8859-1');
      assert.equal(decoded.length, latin.length, 'ISO-8859-1 length');
      for (const at of [0, 1, 255, latin.length - 1]) assert.equal(decoded.charCodeAt(at), latin[at], `ISO-8859-1 character ${at}`);
    },
  },
];
