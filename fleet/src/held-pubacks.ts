/**
 * PUBACKs held back until the store commits (group commit), through public API only: MQTT.js's `handleMessage`
 * hook, its `stream`, and mqtt-packet (the encoder MQTT.js itself writes packets with).
 */
import type { IPublishPacket, MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';

/**
 * Given to handleMessage's callback for a held message. MQTT.js sends a PUBACK only when that callback gets no
 * error (build/lib/handlers/publish.js), then goes on to the next packet either way; the consumer's store-failure
 * path relies on the same rule to have a message redelivered.
 */
const HELD = new Error('[vigil] [fleet] PUBACK held until the store commits');

/** A QoS 1 message whose PUBACK is owed, on the connection it came in on. */
export interface HeldPuback {
  readonly messageId: number;
  readonly connection: number;
}

export class HeldPubacks {
  /** Counts connections: a PUBACK is only ever sent on the connection its message came in on. */
  private connection = 0;

  constructor(private readonly client: MqttClient) {
    client.on('connect', () => this.connection++);
    client.on('close', () => this.connection++);
  }

  /**
   * Tells MQTT.js (through handleMessage's callback) to send no PUBACK for this message and to go on. Returns what
   * send() needs later, or null when the message needs no PUBACK (QoS 0; QoS 2 is left to MQTT.js).
   */
  hold(packet: IPublishPacket, done: (err?: Error) => void): HeldPuback | null {
    if (packet.qos !== 1 || packet.messageId === undefined) {
      done();
      return null;
    }
    done(HELD);
    return { messageId: packet.messageId, connection: this.connection };
  }

  /** Sends a held PUBACK; false when its connection is gone (the broker redelivers on the next one). */
  send(held: HeldPuback): boolean {
    if (held.connection !== this.connection || !this.client.connected) return false;
    mqttPacket.writeToStream({ cmd: 'puback', messageId: held.messageId, reasonCode: 0 }, this.writableStream(), this.client.options);
    return true;
  }

  /** The client's stream, checked: called once connected so that a changed MQTT.js fails at start, not at the first ack. */
  writableStream(): NodeJS.WritableStream {
    const stream = (this.client as { stream?: unknown }).stream as NodeJS.WritableStream | undefined;
    if (!stream || typeof stream.write !== 'function') throw new Error('[vigil] [fleet] MQTT.js has no writable client.stream to send a held PUBACK on (was mqtt upgraded?)');
    return stream;
  }
}
