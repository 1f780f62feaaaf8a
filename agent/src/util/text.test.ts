// The agent's text functions over the codec installed for tests (agent/test/node-text.ts, Node's TextDecoder):
// they must pass a view's own bytes, never its whole buffer. The hosts' codecs are held to the same results
// by the host contract (agent/test/host-contract-text.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FakeHost } from '../../test/fake-host';
import { decodeText, isValidUtf8, readText, utf8Decode, utf8Encode, writeText } from './text';

describe('utf8', () => {
  it('encodes any string exactly as Node does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(Buffer.from(utf8Encode(s)).equals(Buffer.from(s, 'utf8'))).toBe(true);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('encodes a lone surrogate as U+FFFD, as Node does', () => {
    expect(Array.from(utf8Encode('a\ud800b'))).toEqual(Array.from(Buffer.from('a\ud800b', 'utf8')));
  });

  it('decodes any byte sequence as Node does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(utf8Decode(bytes)).toBe(Buffer.from(bytes).toString('utf8'));
      }),
      { seed: 7, numRuns: 5000 },
    );
  });

  it('tells well-formed UTF-8 from malformed', () => {
    expect(isValidUtf8(utf8Encode('Överwachung 🎥'))).toBe(true);
    expect(isValidUtf8(new Uint8Array([0xc3]))).toBe(false);
    expect(isValidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe(false); // an encoded surrogate
  });

  it('accepts a real U+FFFD in the input as well-formed', () => {
    expect(isValidUtf8(utf8Encode('\ufffd'))).toBe(true);
  });
});

describe('views and files', () => {
  it('decodes only the bytes a subarray covers', () => {
    const whole = utf8Encode('xxHaustürxx');
    expect(utf8Decode(whole.subarray(2, 10))).toBe('Haustür');
    expect(decodeText(new Uint8Array([0x41, 0xfc, 0x42]).subarray(1, 2), 'iso-8859-1')).toBe('ü');
    expect(isValidUtf8(whole.subarray(7, 8))).toBe(false); // half of ü
  });

  it('encodes into an array that spans its whole buffer', () => {
    const bytes = utf8Encode('Fußgängerüberweg');
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  it('writes a file as UTF-8 and reads it back', async () => {
    const fake = new FakeHost();
    fake.addDir('/data');
    await writeText(fake.fs, '/data/a.txt', 'Entrée 🎥');
    expect(await readText(fake.fs, '/data/a.txt', 100)).toBe('Entrée 🎥');
  });
});
