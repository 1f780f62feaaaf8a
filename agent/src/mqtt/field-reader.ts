/** The decoder's byte primitives: a bounds-checked reader of one packet body's fields, MQTT 5 properties included.
 * Malformed input throws VigilError EPROTO. */
import { isValidUtf8, utf8Decode } from '../util/text';
import { mqttError } from './errors';
import { PROPS, type Properties } from './properties';

export const protoError = (message: string) => mqttError('EPROTO', message);

/**
 * Reads fields of one packet body; running off its end is a protocol error. A closure rather than a class:
 * its state stays in local variables, which the minifier shortens (`this.at` it cannot).
 */
export const reader = (b: Uint8Array, what: string) => {
  let at = 0;
  const left = () => b.length - at;
  const take = (n: number): Uint8Array => {
    if (at + n > b.length) throw protoError(`${what} is truncated`);
    return b.subarray(at, (at += n));
  };
  const u8 = () => take(1)[0];
  const u16 = () => {
    const x = take(2);
    return (x[0] << 8) | x[1];
  };
  const bytes = () => take(u16());
  const str = (name: string): string => {
    const x = bytes();
    if (!isValidUtf8(x)) throw protoError(`${what} has a ${name} that is not valid UTF-8`);
    const s = utf8Decode(x);
    if (s.indexOf('\0') >= 0) throw protoError(`${what} has a ${name} containing U+0000`);
    return s;
  };
  const varint = (): number => {
    let n = 0;
    for (let mul = 1; ; mul *= 128) {
      if (mul > 128 * 128 * 128) throw protoError(`${what} has a variable integer longer than 4 bytes`);
      const x = u8();
      n += (x & 127) * mul;
      if (!(x & 128)) return n;
    }
  };
  return {
    left,
    take,
    u8,
    u16,
    bytes,
    str,
    varint,
    id(): number {
      const id = u16();
      if (id === 0) throw protoError(`${what} has packet id 0`);
      return id;
    },
    /** MQTT 5 properties; a property that may appear once and appears twice is a protocol error. */
    props(): Properties {
      const end = varint() + at;
      if (end > b.length) throw protoError(`${what} properties are truncated`);
      const out: Properties = {};
      const o = out as Record<string, unknown>;
      while (at < end) {
        const id = varint();
        const def = PROPS[id];
        if (!def) throw protoError(`${what} has unknown property ${id}`);
        const [name, kind] = def;
        if (kind !== 'p' && name in o) throw protoError(`${what} has property ${name} twice`);
        if (kind === 'p') (out.userProperties = out.userProperties || []).push([str(name), str(name)]);
        else {
          o[name] =
            kind === 'b' ? u8() : kind === 'h' ? u16() : kind === 'i' ? u16() * 65536 + u16() : kind === 'v' ? varint() : kind === 's' ? str(name) : bytes().slice();
        }
      }
      if (at !== end) throw protoError(`${what} properties overrun their length`);
      return out;
    },
    end(): void {
      if (left() !== 0) throw protoError(`${what} has ${left()} unexpected trailing bytes`);
    },
  };
};
