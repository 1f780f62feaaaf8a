/** The incremental parser: splits the byte stream from the broker into packets, checking each fixed header
 * and the size limit before buffering a body, and hands each body to a decoder. */
import { VigilError } from '../util/errors';
import { decodePacket } from './decode';
import { protoError } from './field-reader';
import { PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE, packetName, type Packet } from './packet-types';

export const DEFAULT_MAX_INCOMING_PACKET_BYTES = 256 * 1024;

export type PacketDecoder = (type: number, flags: number, body: Uint8Array, level?: number) => Packet;

export interface ParserOptions {
  /** Largest whole packet (fixed header included) accepted; larger ones fail before their body is buffered. */
  maxPacketBytes?: number;
  /** decodePacket (client side, the default) or decodeAnyPacket. */
  decode?: PacketDecoder;
  /** 4 (default) or 5: passed to the decoder. */
  protocolLevel?: number;
}

/**
 * Splits a byte stream into packets. Chunks may split or combine packets anyhow. It holds at most one
 * packet's body (bounded by maxPacketBytes) plus up to 4 header bytes. After an error it stays failed.
 */
// Locals of the constructor, not `this.#field`s: they minify to one letter.
export class PacketParser {
  /** The body being filled (public for the tests that check nothing is allocated ahead of the data). */
  body: Uint8Array | null = null;
  /** True when no partial packet is buffered. */
  idle = true;
  /** Feeds bytes; returns the packets they complete. Throws VigilError EPROTO on malformed input. */
  readonly push: (chunk: Uint8Array) => Packet[];

  constructor(options: ParserOptions = {}) {
    const max = options.maxPacketBytes ?? DEFAULT_MAX_INCOMING_PACKET_BYTES;
    const decode = options.decode ?? decodePacket;
    const level = options.protocolLevel ?? 4;
    let header: number[] = [];
    let filled = 0;
    let failed: VigilError | null = null;

    const consume = (chunk: Uint8Array): Packet[] => {
      const out: Packet[] = [];
      let i = 0;
      while (i < chunk.length) {
        const h = header;
        let body = this.body;
        if (!body) {
          const b = chunk[i++];
          h.push(b);
          if (h.length === 1) {
            this.idle = false;
            const type = b >> 4;
            const flags = b & 15;
            if (type === 0 || type === 15) throw protoError(`packet type ${type} is reserved`);
            if (type === PUBLISH ? (flags & 6) === 6 : flags !== ([PUBREL, SUBSCRIBE, UNSUBSCRIBE].indexOf(type) >= 0 ? 2 : 0)) {
              throw protoError(`${packetName(type)} has reserved flag bits 0x${flags.toString(16)}`);
            }
            continue;
          }
          if (b & 128) {
            if (h.length === 5) throw protoError('remaining length is longer than 4 bytes');
            continue;
          }
          let length = 0;
          for (let k = h.length - 1; k >= 1; k--) length = length * 128 + (h[k] & 127);
          if (h.length + length > max) {
            throw protoError(`${packetName(h[0] >> 4)} of ${h.length + length} bytes exceeds the limit of ${max} bytes`);
          }
          body = this.body = new Uint8Array(length);
          filled = 0;
        }
        const n = Math.min(body.length - filled, chunk.length - i);
        body.set(chunk.subarray(i, (i += n)), filled);
        if ((filled += n) === body.length) {
          this.body = null;
          header = [];
          this.idle = true;
          out.push(decode(h[0] >> 4, h[0] & 15, body, level));
        }
      }
      return out;
    };

    this.push = (chunk) => {
      if (failed) throw failed;
      try {
        return consume(chunk);
      } catch (e) {
        failed = e instanceof VigilError ? e : protoError(`cannot decode: ${String(e)}`);
        header = [];
        this.idle = true;
        this.body = null;
        throw failed;
      }
    };
  }
}
