/**
 * Shared setup of the MqttClient unit tests (agent/src/mqtt/client.*.test.ts): a FakeHost with a broker
 * scripted packet by packet, a client that records what it reports, and promise-state helpers.
 */
import mqttPacket from 'mqtt-packet';
import { FakeHost, type FakePeer } from '../../agent/test/fake-host';
import { utf8Decode } from '../../agent/src/util/text';
import { createMqttClient, type CloseReason, type MessageInfo, type MqttClientOptions } from '../../agent/src/mqtt/client';
import { CONNECT, PINGREQ, PacketParser, decodeAnyPacket, type Packet } from '../../agent/src/mqtt/codec';

export const gen = (p: object): Uint8Array => new Uint8Array(mqttPacket.generate(p as mqttPacket.Packet));

/**
 * A broker scripted packet by packet: it decodes what the agent writes and, by default, accepts CONNECT and
 * answers PINGREQ. A test sets `onPacket` to answer anything else, or `autoConnack`/`autoPingresp` off.
 */
export class ScriptedBroker {
  peer!: FakePeer;
  readonly packets: Packet[] = [];
  connections = 0;
  autoConnack: { returnCode: number; sessionPresent: boolean } | null = { returnCode: 0, sessionPresent: false };
  autoPingresp = true;
  onPacket: (p: Packet) => void = () => {};

  constructor(fake: FakeHost, host = 'broker', port = 1883) {
    fake.serve(host, port, (peer) => {
      this.peer = peer;
      this.connections++;
      const parser = new PacketParser({ decode: decodeAnyPacket, maxPacketBytes: 1 << 24 });
      peer.onData((chunk) => {
        for (const p of parser.push(chunk)) {
          this.packets.push(p);
          if (p.type === CONNECT && this.autoConnack) peer.send(gen({ cmd: 'connack', ...this.autoConnack }));
          else if (p.type === PINGREQ && this.autoPingresp) peer.send(gen({ cmd: 'pingresp' }));
          else this.onPacket(p);
        }
      });
    });
  }

  of<T extends Packet['type']>(type: T): Array<Extract<Packet, { type: T }>> {
    return this.packets.filter((p) => p.type === type) as Array<Extract<Packet, { type: T }>>;
  }

  send(p: object): void {
    this.peer.send(gen(p));
  }
}

export const baseOptions: MqttClientOptions = {
  host: 'broker',
  port: 1883,
  connectTimeoutMs: 5000,
  clientId: 'ACCC8E000001',
  keepaliveSec: 10,
  cleanSession: true,
};

// Live bindings: each test file calls startScriptedBroker in its beforeEach, and reads these afresh.
export let fake: FakeHost;
export let broker: ScriptedBroker;
/** Lets every promise chain run to its end (the host clock does not move). */
export const settle = async () => {
  await fake.advance(0);
  await new Promise((resolve) => setImmediate(resolve));
};

/** A new FakeHost with a ScriptedBroker on broker:1883, for each test (`beforeEach(startScriptedBroker)`). */
export function startScriptedBroker(): void {
  fake = new FakeHost();
  broker = new ScriptedBroker(fake);
}

/** Creates a client that records its close reasons and messages. */
export function makeClient(options: Partial<MqttClientOptions> = {}) {
  const client = createMqttClient(fake, { ...baseOptions, ...options });
  const closes: CloseReason[] = [];
  const messages: Array<{ topic: string; payload: string; info: MessageInfo }> = [];
  client.onClose((r) => closes.push(r));
  client.onMessage((topic, payload, info) => messages.push({ topic, payload: utf8Decode(payload), info }));
  return { client, closes, messages };
}

export async function connected(options: Partial<MqttClientOptions> = {}) {
  const c = makeClient(options);
  const p = c.client.connect();
  await settle();
  await p;
  return c;
}

/** Settles a promise's state without awaiting it forever: 'pending', 'resolved' or 'rejected'. */
export function track<T>(p: Promise<T>) {
  const t = { state: 'pending' as 'pending' | 'resolved' | 'rejected', value: undefined as T | undefined, error: undefined as any };
  p.then(
    (v) => Object.assign(t, { state: 'resolved', value: v }),
    (e) => Object.assign(t, { state: 'rejected', error: e }),
  );
  return t;
}
