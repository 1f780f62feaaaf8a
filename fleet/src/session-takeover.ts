/**
 * Notices another client taking over the consumer's client id (the same user name under Mosquitto's
 * use_username_as_clientid, or the same --client-id): MQTT 5 says so (DISCONNECT reason 0x8E); on 3.1.1
 * (and Mosquitto 2.0.11 on MQTT 5 too) the broker just closes, so the signs are a persistent session that is gone
 * at the reconnect (a clean-session client took the id and wiped it) and repeated closes soon after connect
 * (two clients kicking each other). Warns once per process: the
 * cause and the fix, not a line per kick.
 */
import type { MqttClient } from 'mqtt';
import type { FleetLog } from './log';

/** MQTT 5 DISCONNECT reason code "Session taken over". */
export const SESSION_TAKEN_OVER = 0x8e;
/** On 3.1.1: a connection closed within this long of its CONNACK counts as a kick... */
export const SHORT_SESSION_MS = 5_000;
/** ...and this many in a row are a takeover rather than a flaky network. */
export const SHORT_SESSIONS_TO_WARN = 3;

export function takeoverWarning(clientId: string): string {
  return `session taken over: another client connected with client id "${clientId}" (the broker closed this one, or its persistent session was gone at the reconnect); ` +
    'a second consumer or `vigil status` is using the same user name (use_username_as_clientid) or --client-id, and a clean ' +
    'session wipes the queued reports. Give every consumer and `vigil status` its own broker user (docs/broker-acl.md).';
}

export function watchSessionTakeover(client: MqttClient, clientId: string, persistent: boolean, log: FleetLog, now: () => number): void {
  let warned = false;
  let connectedAt: number | null = null;
  let shortSessions = 0;
  let connects = 0;
  const warn = () => {
    if (warned) return;
    warned = true;
    log('warn', takeoverWarning(clientId));
  };
  client.on('disconnect', (packet) => {
    if (packet.reasonCode === SESSION_TAKEN_OVER) warn();
  });
  client.on('connect', (ack) => {
    connectedAt = now();
    connects++;
    if (persistent && connects > 1 && !ack.sessionPresent) warn();
  });
  client.on('close', () => {
    if (connectedAt === null) return;
    shortSessions = now() - connectedAt < SHORT_SESSION_MS ? shortSessions + 1 : 0;
    connectedAt = null;
    if (shortSessions >= SHORT_SESSIONS_TO_WARN) warn();
  });
}
