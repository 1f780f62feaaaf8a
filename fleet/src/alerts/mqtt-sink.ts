/** The MQTT sink: each alert published on `<prefix>/fleet/alert` (QoS 1, not retained) through the consumer's own connection. */
import type { AlertSink } from './dispatcher';

export function alertTopic(prefix: string): string {
  return `${prefix}/fleet/alert`;
}

export function mqttSink(o: { prefix: string; publish(topic: string, payload: string, timeoutMs: number): Promise<void>; timeoutMs: number }): AlertSink {
  const topic = alertTopic(o.prefix);
  return { id: 'mqtt', kind: 'mqtt', deliver: (body) => o.publish(topic, body, o.timeoutMs) };
}
