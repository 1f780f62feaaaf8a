/**
 * MQTT 5 encoding and decoding, checked both ways against mqtt-packet with protocolVersion 5 (the codec
 * MQTT.js uses). The 3.1.1 path is covered by codec.*.test.ts and is unchanged.
 */
import mqttPacket, { type Packet as MpPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { VigilError } from '../util/errors';
import {
  CONNACK,
  DISCONNECT,
  PUBACK,
  PUBLISH,
  PacketParser,
  SUBACK,
  UNSUBACK,
  encodeConnect,
  encodeProperties,
  encodePublish,
  encodeSubscribe,
  type Packet,
} from './codec';

function oracleOne(bytes: Uint8Array): any {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const out: MpPacket[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p: MpPacket) => out.push(p));
  parser.on('error', (e: Error) => errors.push(e));
  expect(parser.parse(Buffer.from(bytes))).toBe(0);
  if (errors.length) throw errors[0];
  expect(out).toHaveLength(1);
  return out[0];
}

const generate = (p: object): Uint8Array => new Uint8Array(mqttPacket.generate(p as MpPacket, { protocolVersion: 5 }));

function decode5(bytes: Uint8Array): any {
  const packets: Packet[] = new PacketParser({ protocolLevel: 5 }).push(bytes);
  expect(packets).toHaveLength(1);
  return packets[0];
}

describe('MQTT 5 encoding, checked by mqtt-packet', () => {
  it('encodes CONNECT level 5 with properties, credentials and a will with its own properties', () => {
    const p = oracleOne(
      encodeConnect({
        protocolLevel: 5,
        clientId: 'ACCC8E000001',
        cleanSession: true,
        keepaliveSec: 30,
        username: 'cam',
        password: 'pw',
        props: { maximumPacketSize: 262144, receiveMaximum: 16, sessionExpiryInterval: 0 },
        will: {
          topic: 'vigil/v1/ACCC8E000001/state',
          payload: '{"state":"lost"}',
          qos: 1,
          retain: true,
          props: { payloadFormatIndicator: 1, contentType: 'application/json', messageExpiryInterval: 3600 },
        },
      }),
    );
    expect(p).toMatchObject({ cmd: 'connect', protocolVersion: 5, clientId: 'ACCC8E000001', keepalive: 30, username: 'cam', clean: true });
    expect(p.properties).toEqual({ maximumPacketSize: 262144, receiveMaximum: 16, sessionExpiryInterval: 0 });
    expect(p.will).toMatchObject({ topic: 'vigil/v1/ACCC8E000001/state', qos: 1, retain: true });
    expect(p.will.properties).toEqual({ payloadFormatIndicator: true, contentType: 'application/json', messageExpiryInterval: 3600 });
  });

  it('encodes a password without a user name, which MQTT 5 allows', () => {
    const p = oracleOne(encodeConnect({ protocolLevel: 5, clientId: 'c', cleanSession: true, keepaliveSec: 0, password: 'x' }));
    expect(Buffer.from(p.password).toString()).toBe('x');
    expect(p.username).toBeUndefined();
  });

  it('encodes PUBLISH with message expiry, content type, correlation data and repeated user properties', () => {
    const p = oracleOne(
      encodePublish({
        topic: 'vigil/v1/x/report',
        payload: '{}',
        qos: 1,
        id: 9,
        retain: true,
        props: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 4294967295,
          contentType: 'application/json',
          correlationData: new Uint8Array([1, 2, 3]),
          responseTopic: 'a/b',
          userProperties: [
            ['seq', '17'],
            ['k', 'one'],
            ['k', 'two'],
          ],
        },
      }),
    );
    expect(p).toMatchObject({ cmd: 'publish', topic: 'vigil/v1/x/report', qos: 1, messageId: 9, retain: true });
    expect(p.properties).toMatchObject({
      payloadFormatIndicator: true,
      messageExpiryInterval: 4294967295,
      contentType: 'application/json',
      responseTopic: 'a/b',
      userProperties: { seq: '17', k: ['one', 'two'] },
    });
    expect([...p.properties.correlationData]).toEqual([1, 2, 3]);
  });

  it('encodes PUBLISH with an empty property list as MQTT 5 requires', () => {
    const p = oracleOne(encodePublish({ topic: 't', payload: 'x', qos: 0, props: {} }));
    expect(Buffer.from(p.payload).toString()).toBe('x');
  });

  it('encodes SUBSCRIBE with (empty) properties', () => {
    expect(oracleOne(encodeSubscribe(3, [{ topic: 'vigil/v1/x/cmd/+', qos: 1 }], {}))).toMatchObject({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [{ topic: 'vigil/v1/x/cmd/+', qos: 1 }],
    });
  });

  it('encodes a property list longer than 127 bytes with a two-byte length', () => {
    const parts = encodeProperties({ contentType: 'x'.repeat(200) });
    expect(parts[0]).toEqual([203 & 127 | 128, 1]);
  });
});

describe('MQTT 5 decoding what mqtt-packet generates', () => {
  it('decodes a CONNACK with the broker limits', () => {
    const p = decode5(
      generate({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { maximumPacketSize: 1000, receiveMaximum: 5, serverKeepAlive: 20, assignedClientIdentifier: 'auto-1' } }),
    );
    expect(p).toEqual({
      type: CONNACK,
      sessionPresent: false,
      returnCode: 0,
      props: { maximumPacketSize: 1000, receiveMaximum: 5, serverKeepAlive: 20, assignedClientIdentifier: 'auto-1' },
    });
  });

  it('decodes a refusing CONNACK with its reason code and reason string', () => {
    const p = decode5(generate({ cmd: 'connack', sessionPresent: false, reasonCode: 0x86, properties: { reasonString: 'bad password' } }));
    expect(p).toMatchObject({ returnCode: 0x86, props: { reasonString: 'bad password' } });
  });

  it('decodes PUBLISH with correlation data, response topic and user properties', () => {
    const p = decode5(
      generate({
        cmd: 'publish',
        topic: 'vigil/v1/x/cmd/report-now',
        payload: Buffer.from('{"id":"c1"}'),
        qos: 1,
        messageId: 5,
        retain: false,
        dup: false,
        properties: { correlationData: Buffer.from('corr'), responseTopic: 'r/t', userProperties: { a: 'b' } },
      }),
    );
    expect(p.type).toBe(PUBLISH);
    expect(p.id).toBe(5);
    expect(Buffer.from(p.payload).toString()).toBe('{"id":"c1"}');
    expect(Buffer.from(p.props.correlationData).toString()).toBe('corr');
    expect(p.props).toMatchObject({ responseTopic: 'r/t', userProperties: [['a', 'b']] });
  });

  it('decodes a PUBACK with a failure reason code, and a bare PUBACK as success', () => {
    expect(decode5(generate({ cmd: 'puback', messageId: 7, reasonCode: 0x87 }))).toMatchObject({ type: PUBACK, id: 7, reasonCode: 0x87 });
    expect(decode5(new Uint8Array([0x40, 2, 0, 8]))).toMatchObject({ type: PUBACK, id: 8, reasonCode: 0 });
  });

  it('decodes SUBACK and UNSUBACK reason codes, failures included', () => {
    expect(decode5(generate({ cmd: 'suback', messageId: 2, granted: [1, 0x87], properties: {} }))).toMatchObject({ type: SUBACK, id: 2, granted: [1, 0x87] });
    expect(decode5(generate({ cmd: 'unsuback', messageId: 3, granted: [0], properties: {} }))).toMatchObject({ type: UNSUBACK, id: 3, reasonCodes: [0] });
  });

  it('decodes a DISCONNECT from the broker with "session taken over"', () => {
    expect(decode5(generate({ cmd: 'disconnect', reasonCode: 0x8e }))).toMatchObject({ type: DISCONNECT, reasonCode: 0x8e });
  });

  it('rejects an unknown property id with EPROTO', () => {
    const bad = new Uint8Array([0x20, 5, 0, 0, 2, 0x7f, 0]);
    expect(() => new PacketParser({ protocolLevel: 5 }).push(bad)).toThrow(VigilError);
    expect(() => new PacketParser({ protocolLevel: 5 }).push(bad)).toThrow(/unknown property 127/);
  });

  it('rejects a property given twice that may appear once', () => {
    const twice = new Uint8Array([0x20, 9, 0, 0, 6, 0x21, 0, 5, 0x21, 0, 6]);
    expect(() => new PacketParser({ protocolLevel: 5 }).push(twice)).toThrow(/receiveMaximum twice/);
  });

  it('rejects properties that run past the packet', () => {
    expect(() => new PacketParser({ protocolLevel: 5 }).push(new Uint8Array([0x20, 3, 0, 0, 9]))).toThrow(/truncated/);
  });
});
