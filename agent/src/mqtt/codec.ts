/**
 * A small MQTT 3.1.1 packet codec, purpose-built for the agent (QuickJS: no Buffer, no TextEncoder).
 *
 * Encode: the packets the agent sends (CONNECT, PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE, PINGREQ,
 * DISCONNECT; it never unsubscribes, so there is no UNSUBSCRIBE encoder). Bad arguments throw VigilError EINVAL.
 * Decode: `decodePacket` takes what a broker sends (CONNACK, PUBLISH qos 0-2, the acks, SUBACK, UNSUBACK,
 * PINGRESP); `decodeAnyPacket` also takes what a client sends (for tests and scripted brokers; it is not
 * referenced by the client, so the bundler leaves it out). `PacketParser` splits a byte stream into packets.
 * Malformed input throws VigilError EPROTO with a message that says what was wrong.
 *
 * MQTT 5 (protocolLevel 5) is an option: CONNECT, PUBLISH and SUBSCRIBE take `properties`
 * (written after the variable header, and before the will topic for the will's own), and the parser, told
 * the level, reads CONNACK/PUBLISH/ack/SUBACK/DISCONNECT properties and reason codes. Level 4 is unchanged.
 *
 * This file is the codec's public face; the code lives beside it, one concept per file:
 * packet-types.ts (type numbers, packet interfaces) · properties.ts (MQTT 5 property table and encoder) ·
 * field-writer.ts / field-reader.ts (byte primitives) · encode.ts (what the agent sends) ·
 * decode.ts (one packet body) · packet-parser.ts (the byte stream → packets).
 */
export * from './packet-types';
export { encodeProperties, type Properties } from './properties';
export * from './encode';
export * from './decode';
export * from './packet-parser';
