/**
 * The agent's network clients over the native host's real sockets, for the coverage-guided fuzzer
 * host-native/fuzz/fuzz_net.c: `__vigilNetFuzz(flow, port, stall)` runs one client flow against the hostile
 * peer the harness owns on 127.0.0.1:port and returns a promise that settles when the flow is over.
 * Bundled by host-native/fuzz/build.sh into out/fuzz/fuzz-net.js.
 *
 * The promise fulfils when the flow ended well or was refused the documented way (a VigilError with a code
 * other than EIO, EBADF or EINVAL: the clients turn an unexpected TypeError into EIO); it
 * rejects, and the harness aborts, when something else escaped, MqttClient.onClose did not run exactly once,
 * or a socket the flow opened was left open.
 */
import type { Host, TlsOptions } from '../src/host';
import { createMqttClient } from '../src/mqtt/client';
import { httpRequest } from '../src/vapix/http';
import { createVapixClient, type VapixClient } from '../src/vapix/vapix';
import { VigilError } from '../src/util/errors';
import { installText } from '../src/util/text';

const real = (globalThis as unknown as { __vigilHost: Host }).__vigilHost;
// The clients encode and decode text through the host's codec, as in the agent (fuzz_net.c fills host.text).
installText(real.text);

// Sockets the flow opened and has not closed yet; a socket left open after the flow settled is a leak.
const open = new Set<number>();
const net: Host['net'] = {
  connect: (o) =>
    real.net.connect(o).then((s) => {
      open.add(s);
      return s;
    }),
  read: (s) => real.net.read(s),
  write: (s, d) => real.net.write(s, d),
  close: (s) => {
    open.delete(s);
    real.net.close(s);
  },
};
const host = { net, clock: real.clock, log: () => {} } as unknown as Host;

class Finding extends Error {
  constructor(message: string) {
    super(`[vigil] [fuzz] ${message}`);
  }
}

const UNEXPECTED = ['EIO', 'EBADF', 'EINVAL'];

// What the flow came to, for VIGIL_FUZZ_NET_TRACE=1 (checking that the seeds reach where they should).
let outcome = '';

/** A documented refusal (noted in the outcome), or a Finding (thrown). */
function refusal(err: unknown, where: string): void {
  if (!(err instanceof VigilError)) {
    const e = err as Error;
    throw new Finding(`${where}: ${e?.name ?? typeof err} escaped: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`);
  }
  // EIO: an unexpected exception the client wrapped; EBADF/EINVAL: the client misused the host (a read after
  // close, two reads at once); none of the fixed topics, paths or options here is invalid.
  if (!/^E[A-Z0-9]+$/.test(err.code) || UNEXPECTED.includes(err.code)) throw new Finding(`${where}: unexpected code ${err.code}: ${err.message}`);
  outcome += `${where}: ${err.code} ${err.message}\n`;
}

async function mqtt(port: number, timeoutMs: number, protocolLevel: 4 | 5, tls?: TlsOptions): Promise<void> {
  const c = createMqttClient(host, {
    host: '127.0.0.1',
    port,
    tls,
    connectTimeoutMs: timeoutMs,
    clientId: 'vigil-fuzz',
    username: 'fuzz',
    password: 'secret',
    keepaliveSec: 60,
    cleanSession: true,
    maxIncomingPacketBytes: 4096,
    protocolLevel,
  });
  let closes = 0;
  let reason = { code: '', message: '' };
  c.onClose((r) => {
    closes++;
    reason = r;
  });
  // The client catches a throwing handler (and logs it), so a bad message is remembered instead.
  let badMessage = '';
  c.onMessage((topic, payload, info) => {
    if (typeof topic !== 'string' || !(payload instanceof Uint8Array) || ![0, 1, 2].includes(info.qos)) {
      badMessage = `a message with a bad shape: ${typeof topic} ${String(info.qos)}`;
    }
  });
  // A stalled peer: the agent's main loop gives up on a session the same way (disconnect()).
  const guard = real.clock.setTimer(timeoutMs, () => void c.disconnect());
  try {
    try {
      await c.connect();
    } catch (e) {
      refusal(e, 'connect');
    }
    if (c.state === 'open') {
      const results = await Promise.allSettled([
        c.subscribe([{ topic: 'vigil/fuzz/cmd/#', qos: 1 }]),
        c.publish('vigil/fuzz/report', 'report', { qos: 1 }),
        c.publish('vigil/fuzz/event', new Uint8Array(16), { qos: 0 }),
      ]);
      for (const r of results) if (r.status === 'rejected') refusal(r.reason, 'subscribe/publish');
      const granted = results[0].status === 'fulfilled' ? results[0].value : [];
      if (!Array.isArray(granted) || granted.some((g) => typeof g !== 'number')) throw new Finding('SUBACK granted is not numbers');
      await c.disconnect();
    }
  } finally {
    real.clock.clearTimer(guard);
  }
  if (badMessage) throw new Finding(badMessage);
  if (c.state !== 'closed') throw new Finding(`the client is ${c.state} after the flow`);
  if (closes !== 1) throw new Finding(`onClose ran ${closes} times`);
  if (UNEXPECTED.includes(reason.code) || !reason.message.startsWith('[vigil] [mqtt] ')) throw new Finding(`close reason ${reason.code}: ${reason.message}`);
}

async function vapix(port: number, timeoutMs: number, call: (v: VapixClient) => Promise<unknown>): Promise<void> {
  const v = createVapixClient(host, { host: '127.0.0.1', port, timeoutMs, credentials: { username: 'root', password: 'pass' } });
  try {
    await call(v);
  } catch (e) {
    refusal(e, 'vapix');
  }
}

const FLOWS: Array<(port: number, timeoutMs: number) => Promise<void>> = [
  // MQTT 3.1.1: connect, subscribe + publish qos 1 + publish qos 0, disconnect
  (p, t) => mqtt(p, t, 4),
  // the same in MQTT 5
  (p, t) => mqtt(p, t, 5),
  // VAPIX GET param.cgi (text)
  (p, t) => vapix(p, t, (v) => v.listParams(['Network', 'Properties.System'])),
  // VAPIX GET applications/list.cgi (XML)
  (p, t) => vapix(p, t, (v) => v.listApplications()),
  // VAPIX POST basicdeviceinfo.cgi (JSON)
  (p, t) => vapix(p, t, (v) => v.basicDeviceInfo()),
  // VAPIX GET applications/config.cgi (404 allowed)
  (p, t) => vapix(p, t, (v) => v.unsignedAllowed()),
  // MQTT 3.1.1 over TLS without verification: mbedTLS parses the peer's handshake
  (p, t) => mqtt(p, t, 4, { verify: false }),
  // a raw GET with a small response cap (EFBIG paths)
  (p, t) =>
    httpRequest(host, { host: '127.0.0.1', port: p, timeoutMs: t, maxResponseBytes: 512 }, { method: 'GET', path: '/fuzz' }).then(
      (res) => {
        if (!(res.body instanceof Uint8Array) || typeof res.status !== 'number') throw new Finding('a response with a bad shape');
      },
      (e) => refusal(e, 'http'),
    ),
];

async function run(flow: number, port: number, timeoutMs: number): Promise<string> {
  outcome = '';
  await FLOWS[flow % FLOWS.length](port, timeoutMs);
  if (open.size) {
    const left = [...open];
    for (const s of left) net.close(s);
    throw new Finding(`sockets ${left.join(',')} left open by flow ${flow % FLOWS.length}`);
  }
  return outcome || 'ok';
}

(globalThis as unknown as { __vigilNetFuzz: typeof run }).__vigilNetFuzz = run;
