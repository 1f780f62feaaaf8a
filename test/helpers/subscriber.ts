/**
 * An MQTT.js subscriber that records what a broker delivers, for end-to-end tests.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export class Subscriber {
  readonly messages: Received[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string, filters: string[]): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { clientId: `test-sub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const sub = new Subscriber(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return sub;
  }

  json(topic: string): unknown[] {
    return this.messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload.toString('utf8')));
  }

  /** Waits until predicate holds over the messages so far, or fails after timeoutMs with what was seen. */
  async waitFor<T>(describe: string, predicate: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.messages.map((m) => `${m.topic} ${m.payload.toString('utf8').slice(0, 120)}`).join('\n');
        throw new Error(`timed out waiting for ${describe}; received:\n${seen}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
