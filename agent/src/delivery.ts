/**
 * Paced delivery from the outboxes (events first, then reports) over the MQTT session: a bounded number in
 * flight, a bounded rate, and each message leaves its outbox only on its PUBACK.
 */
import type { Host } from './host';
import type { AgentConfig } from './config';
import type { Log } from './log';
import type { Outbox, OutboxEntry } from './outbox';
import type { MqttClient } from './mqtt/client';
import type { Properties } from './mqtt/codec';
import { jsonProperties, type MqttSession } from './mqtt/session';
import type { DeviceTopics } from './mqtt/topics';
import { REPORT_SCHEMA } from './report/types';
import { EVENT_SCHEMA } from './events';
import { errorCode, errorMessage, ignore } from './util/errors';

export interface DeliveryDeps {
  clock: Host['clock'];
  agentConf: AgentConfig;
  log: Log;
  reportBox: Outbox;
  /** Events waiting for their PUBACK: a queue of their own, so they never push reports out (or back). */
  eventBox: Outbox;
  mqttLink: Pick<MqttSession, 'client' | 'connected'>;
  topics(): DeviceTopics;
  /** Saves the agent's counters after a message was dropped. */
  save(): Promise<void>;
}

export interface Delivery {
  /** Sends what the window and the rate allow now, and sets a timer for the rest. */
  pump(): void;
  /** A new connection at `at` (monotonic ms): a full window of tokens. */
  restart(at: number): void;
  /** The connection ended: nothing is in flight any more, no pump is due. */
  forget(): void;
  /** For a planned stop: no pump is due. */
  stop(): void;
  /** In flight, or published and not acknowledged: the outboxes do not drop it to make room (outbox.ts). */
  busy(reportId: string): boolean;
}

export const createDelivery = (deps: DeliveryDeps): Delivery => {
  const { clock, agentConf: config, log, reportBox: outbox, eventBox: events, mqttLink: session } = deps;
  const inflight = new Set<string>();
  /** Published at least once, PUBACK not seen: maybe delivered, so not dropped before the others. */
  const sent = new Set<string>();
  let tokens = 0;
  let tokensAt = 0;
  let pumpTimer: number | null = null;
  /**
   * Settled once the previous send has handed its PUBLISH to the client: payloads are read in parallel, but
   * each send publishes only after the one started before it, so the broker gets them in `seq` order
   * whichever read finishes first.
   */
  let turn: Promise<void> = Promise.resolve();

  const stop = (): void => {
    if (pumpTimer !== null) clock.clearTimer(pumpTimer);
    pumpTimer = null;
  };

  /**
   * Sends queued reports oldest first, paced: at most ReplayInflight await their PUBACK at once (and no
   * more than the broker's Receive Maximum), at most ReplayPerSec per second (token bucket), so a replay
   * after a long outage never floods the broker's queues.
   */
  const pump = (): void => {
    const client = session.client;
    if (!session.connected || !client || pumpTimer !== null) return;
    if (sent.size > 64) {
      const queued = new Set(outbox.inQueue().concat(events.inQueue()).map((e) => e.id));
      for (const id of [...sent]) if (!queued.has(id)) sent.delete(id);
    }
    const window = Math.min(config.outboxConf.inflight, client.brokerReceiveMaximum);
    const rate = config.outboxConf.perSec;
    const now = clock.monotonic();
    tokens = Math.min(window, tokens + ((now - tokensAt) * rate) / 1000);
    tokensAt = now;
    // Events first: they are few and meant to arrive at once.
    for (const entry of events.inQueue().concat(outbox.inQueue())) {
      if (inflight.size >= window) return;
      const id = entry.id;
      if (inflight.has(id)) continue;
      if (tokens < 1) {
        pumpTimer = clock.setTimer(Math.ceil(((1 - tokens) * 1000) / rate), () => {
          pumpTimer = null;
          pump();
        });
        return;
      }
      tokens -= 1;
      inflight.add(id);
      send(client, entry).catch((err) => log('error', 'mqtt', `delivery failed: ${errorMessage(err)}`));
    }
  };

  const send = async (client: MqttClient, entry: OutboxEntry): Promise<void> => {
    const topics = deps.topics();
    const id = entry.id;
    const ev = events.inQueue().indexOf(entry) >= 0;
    const box = ev ? events : outbox;
    const previous = turn;
    let done: () => void = ignore;
    turn = new Promise((resolve) => (done = resolve));
    try {
      let payload: Uint8Array;
      try {
        const read = box.payload(entry);
        read.catch(ignore); // awaited below, after the turn: an early failure is not unhandled meanwhile
        await previous;
        payload = await read;
      } catch (err) {
        done();
        log('error', 'outbox', `queued report ${entry.seq} is unreadable, dropped: ${errorMessage(err)}`);
        await box.drop(id);
        await deps.save();
        return;
      }
      const all = box.inQueue();
      // Only the newest report is retained, so a late consumer learns the camera's current state at once.
      const retain = !ev && all[all.length - 1] === entry;
      const properties: Properties = {
        ...jsonProperties(),
        userProperties: ev
          ? [
              ['schema', EVENT_SCHEMA],
              ['eventId', id],
            ]
          : [
              ['schema', REPORT_SCHEMA],
              ['seq', String(entry.seq)],
              ['reportId', id],
            ],
      };
      if (config.messageExpirySec > 0) properties.messageExpiryInterval = config.messageExpirySec;
      try {
        sent.add(id);
        const published = client.publish(ev ? topics.event : topics.report, payload, { qos: 1, retain, props: properties });
        done(); // the PUBLISH is queued on the socket: the next send may queue its own
        await published;
        sent.delete(id);
        await box.ack(id);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'EPUBACK' || code === 'E2BIG') {
          // Re-sending would fail the same way forever: drop it, counted, so the gap is accounted for.
          log('error', 'mqtt', `report ${entry.seq} dropped: ${errorMessage(err)}`);
          sent.delete(id);
          await box.drop(id);
          await deps.save();
        }
        // ECLOSED: the report stays queued and goes again after the reconnect.
      }
    } finally {
      done();
      if (client === session.client) {
        inflight.delete(id);
        pump();
      }
    }
  };

  return {
    pump,
    restart: (at) => {
      tokens = config.outboxConf.inflight;
      tokensAt = at;
    },
    forget: () => {
      inflight.clear();
      stop();
    },
    stop,
    busy: (id) => inflight.has(id) || sent.has(id),
  };
};
