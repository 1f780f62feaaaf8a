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
export class PacketParser {
  readonly #max: number;
  readonly #decode: PacketDecoder;
  readonly #level: number;
  #header: number[] = [];
  #filled = 0;
  #failed: VigilError | null = null;
  /** The body being filled (public for the tests that check nothing is allocated ahead of the data). */
  body: Uint8Array | null = null;

  constructor(options: ParserOptions = {}) {
    this.#max = options.maxPacketBytes ?? DEFAULT_MAX_INCOMING_PACKET_BYTES;
    this.#decode = options.decode ?? decodePacket;
    this.#level = options.protocolLevel ?? 4;
  }

  /** Feeds bytes; returns the packets they complete. Throws VigilError EPROTO on malformed input. */
  push(chunk: Uint8Array): Packet[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#consume(chunk);
    } catch (e) {
      this.#failed = e instanceof VigilError ? e : protoError(`cannot decode: ${String(e)}`);
      this.#header = [];
      this.body = null;
      throw this.#failed;
    }
  }

  /** True when no partial packet is buffered. */
  get idle(): boolean {
    return this.#header.length === 0;
  }

  #consume(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    let i = 0;
    while (i < chunk.length) {
      const h = this.#header;
      let body = this.body;
      if (!body) {
        const b = chunk[i++];
        h.push(b);
        if (h.length === 1) {
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
        if (h.length + length > this.#max) {
          throw protoError(`${packetName(h[0] >> 4)} of ${h.length + length} bytes exceeds the limit of ${this.#max} bytes`);
        }
        body = this.body = new Uint8Array(length);
        this.#filled = 0;
      }
      const n = Math.min(body.length - this.#filled, chunk.length - i);
      body.set(chunk.subarray(i, (i += n)), this.#filled);
      if ((this.#filled += n) === body.length) {
        this.body = null;
        this.#header = [];
        out.push(this.#decode(h[0] >> 4, h[0] & 15, body, this.#level));
      }
    }
    return out;
  }
}
