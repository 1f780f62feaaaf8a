/**
 * The agent's main loop on a FakeHost (manual clock, in-memory files) talking to a real broker: embedded
 * Aedes in process, or Mosquitto over loopback TCP. The agent's in-memory socket is bridged to the broker;
 * the bridge parses both directions so a test can see what was in flight. An MQTT.js observer on the
 * broker's TCP port records what a consumer receives.
 *
 * Time moves only when the test says so (`fake.advance`); `until` advances in small steps and lets real
 * I/O run between them, up to a step budget, so no assertion depends on wall-clock speed.
 *
 * Paced clock (on unless `pace: false`): `until` and `run` do not move the clock while one of the agent's
 * connection attempts awaits the real broker's first answer (its CONNACK). With the clock running there, a
 * loaded machine (a descheduled broker) let the agent's 10 s connect timeout fire in simulated time before
 * the real CONNACK came, so what a test saw depended on load. The hold is bounded per attempt (holdMs of
 * real time, 5 s by default) so a broker that never answers still times out and the test stays finite.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import { Aedes, type AedesOptions } from 'aedes';
import mqtt, { type MqttClient as MqttJsClient } from 'mqtt';
import { FakeHost, type FakePeer } from '../../agent/test/fake-host';
import { loadTestdata, serveVapix, TEST_CREDENTIALS, type VapixAnswer } from '../../agent/test/vapix-fixture';
import { createAgent, type Agent } from '../../agent/src/agent';
import { PacketParser, decodeAnyPacket, PUBLISH, PUBACK, type Packet } from '../../agent/src/mqtt/codec';

const ROOT = join(__dirname, '../..');
export const SERIAL = 'ACCC8EF3A1C2';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  properties?: Record<string, unknown>;
}

export interface BridgeStats {
  connections: number;
  reportPublishes: number;
  pubacks: number;
  /** Most report PUBLISHes awaiting their PUBACK at one time. */
  maxOutstanding: number;
  /** Report PUBLISH times (fake monotonic ms). */
  publishTimes: number[];
}

export interface HarnessOptions {
  config?: Record<string, string>;
  /** The FakeHost's configOverrides (--config): over the camera's settings page. */
  overrides?: Record<string, string>;
  broker?: 'aedes' | { host: string; port: number };
  aedes?: AedesOptions;
  /** Observer protocol version (5 to see MQTT 5 properties, Mosquitto only). */
  observerVersion?: 4 | 5;
  /**
   * Stop the clock while an agent connection attempt awaits the real broker's CONNACK, for at most holdMs
   * of real time per attempt (default 5000); false: the clock never waits for the broker.
   */
  pace?: false | { holdMs?: number };
}

/** What the paced clock did: attempts that held it, how long, and those that ran out of hold. */
export interface PacingStats {
  /** Connection attempts whose CONNACK had not come when the clock was due to move. */
  held: number;
  /** Longest real time one attempt held the clock, ms. */
  longestHoldMs: number;
  /** Attempts still unanswered after holdMs: the clock moved on without their CONNACK. */
  expired: number;
}

/** One agent connection to the real broker, from its TCP accept to the broker's first bytes. */
interface Attempt {
  openedAt: number;
  answered: boolean;
  closed: boolean;
  expired: boolean;
  held: boolean;
}

export class AgentHarness {
  readonly fake: FakeHost;
  agent: Agent | null = null;
  aedes: Aedes | null = null;
  server: net.Server | null = null;
  brokerPort = 0;
  brokerHost = '127.0.0.1';
  observer: MqttJsClient | null = null;
  readonly received: Received[] = [];
  readonly stats: BridgeStats = { connections: 0, reportPublishes: 0, pubacks: 0, maxOutstanding: 0, publishTimes: [] };
  readonly pacing: PacingStats = { held: 0, longestHoldMs: 0, expired: 0 };
  private links: Array<() => void> = [];
  private outstanding = new Set<number>();
  private attempts: Attempt[] = [];
  private readonly holdMs: number | null;
  private stepHooks: Array<() => Promise<void>> = [];
  private steps = 0;
  /** The agent's open sockets to broker:1883 (its side: closed when the agent closes them). */
  private agentSockets = new Set<number>();

  constructor(private readonly options: HarnessOptions = {}) {
    this.holdMs = options.pace === false ? null : (options.pace?.holdMs ?? 5000);
    this.fake = new FakeHost({
      config: {
        BrokerHost: 'broker',
        BrokerPort: '1883',
        IntervalSec: '10',
        DataDir: '/data',
        IntegrityPaths: '/usr/bin,/etc/passwd',
        VapixUsername: TEST_CREDENTIALS.username,
        VapixPassword: TEST_CREDENTIALS.password,
        ...(options.config ?? {}),
      },
      overrides: options.overrides,
    });
    const answers: Record<string, VapixAnswer> = (this.vapixAnswers = {
      ...loadTestdata(this.fake, fsLike, join(ROOT, 'agent/src/collectors/device/testdata/valid')),
      ...loadTestdata(this.fake, fsLike, join(ROOT, 'agent/src/collectors/integrity/testdata/valid')),
    });
    this.deviceParams = String(answers['/axis-cgi/param.cgi'] ?? '');
    serveVapix(this.fake, answers, { credentials: TEST_CREDENTIALS });
    // the agent's side of its broker connections, seen through the host seam
    const { connect, close } = this.fake.net;
    this.fake.net.connect = async (o) => {
      const id = await connect(o);
      if (o.host === 'broker') this.agentSockets.add(id);
      return id;
    };
    this.fake.net.close = (id) => {
      this.agentSockets.delete(id);
      close(id);
    };
  }

  /** What the fake camera's VAPIX answers, by path; a test may change them while the agent runs. */
  readonly vapixAnswers: Record<string, VapixAnswer>;
  private readonly deviceParams: string;

  /**
   * The app's settings page: param.cgi answers these as `root.vigil.<Param>` lines (with the device's own
   * parameters); null: the group is missing, as on a camera without the app's parameters.
   */
  setCameraSettings(settings: Record<string, string> | null): void {
    const app = Object.entries(settings ?? {}).map(([k, v]) => `root.vigil.${k}=${v}\n`);
    this.vapixAnswers['/axis-cgi/param.cgi'] = this.deviceParams.replace(/\n?$/, '\n') + app.join('');
  }

  /** Connections to host:port also reach the real broker (a second address of it, for a broker change). */
  serveBroker(host: string, port: number): void {
    this.fake.serve(host, port, (peer) => this.bridge(peer));
  }

  /** Broker connections the agent holds open (0 once it has let go of a connection the broker ended). */
  agentConnections(): number {
    return this.agentSockets.size;
  }

  /** The broker, then the agent, and waits for the agent's first report: how most agent tests begin. */
  async startUntilFirstReport(): Promise<this> {
    await this.startBroker();
    this.start();
    await this.until('the first report', () => this.reports().length >= 1);
    return this;
  }

  async startBroker(): Promise<void> {
    if (this.options.broker && this.options.broker !== 'aedes') {
      this.brokerHost = this.options.broker.host;
      this.brokerPort = this.options.broker.port;
    } else {
      this.aedes = await Aedes.createBroker({ queueLimit: 10_000, ...(this.options.aedes ?? {}) });
      this.server = net.createServer(this.aedes.handle);
      await new Promise<void>((resolve) => (this.server as net.Server).listen(0, '127.0.0.1', resolve));
      this.brokerPort = (this.server.address() as AddressInfo).port;
    }
    const o = await mqtt.connectAsync(`mqtt://${this.brokerHost}:${this.brokerPort}`, {
      clientId: `observer-${Math.random().toString(16).slice(2)}`,
      reconnectPeriod: 0,
      protocolVersion: this.options.observerVersion ?? 4,
    });
    o.on('message', (topic, payload, packet) =>
      this.received.push({ topic, payload: payload.toString(), retain: packet.retain, properties: packet.properties as Record<string, unknown> | undefined }),
    );
    await o.subscribeAsync('vigil/v1/#', { qos: 1 });
    this.observer = o;
    this.brokerUp();
  }

  /** Connections to broker:1883 reach the real broker. */
  brokerUp(): void {
    this.fake.serve('broker', 1883, (peer) => this.bridge(peer));
  }

  /** Connections are refused and the current ones are cut. */
  brokerDown(): void {
    this.fake.unserve('broker', 1883);
    this.dropConnections();
  }

  dropConnections(): void {
    for (const cut of this.links.splice(0)) cut();
  }

  private bridge(peer: FakePeer): void {
    this.stats.connections++;
    this.outstanding.clear();
    const attempt: Attempt = { openedAt: Date.now(), answered: false, closed: false, expired: false, held: false };
    this.attempts.push(attempt);
    peer.onClose(() => (attempt.closed = true));
    const up = new PacketParser({ decode: decodeAnyPacket, maxPacketBytes: 1 << 24 });
    const down = new PacketParser({ decode: decodeAnyPacket, maxPacketBytes: 1 << 24 });
    const watchUp = (bytes: Uint8Array) => {
      let packets: Packet[] = [];
      try {
        packets = up.push(bytes);
      } catch {
        return; // MQTT 5 packets: not counted
      }
      for (const p of packets) {
        if (p.type === PUBLISH && p.topic.endsWith('/report') && p.id) {
          this.stats.reportPublishes++;
          this.stats.publishTimes.push(this.fake.clock.monotonic());
          this.outstanding.add(p.id);
          this.stats.maxOutstanding = Math.max(this.stats.maxOutstanding, this.outstanding.size);
        }
      }
    };
    const watchDown = (bytes: Uint8Array) => {
      // a broker's first bytes on a connection are its CONNACK (MQTT 5 ones included, which the parser skips)
      attempt.answered = true;
      let packets: Packet[] = [];
      try {
        packets = down.push(bytes);
      } catch {
        return;
      }
      for (const p of packets) {
        if (p.type === PUBACK && this.outstanding.delete(p.id)) this.stats.pubacks++;
      }
    };
    let stream: Duplex;
    if (this.aedes) {
      stream = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          const bytes = new Uint8Array(chunk);
          watchDown(bytes);
          peer.send(bytes);
          callback();
        },
        final(callback) {
          peer.end();
          callback();
        },
      });
      peer.onData((bytes) => {
        watchUp(bytes);
        stream.push(Buffer.from(bytes));
      });
      peer.onClose(() => stream.push(null));
      stream.on('close', () => peer.end());
      this.aedes.handle(stream);
    } else {
      const socket = net.connect(this.brokerPort, this.brokerHost);
      stream = socket;
      const pending: Uint8Array[] = [];
      let open = false;
      socket.on('connect', () => {
        open = true;
        for (const b of pending.splice(0)) socket.write(b);
      });
      peer.onData((bytes) => {
        watchUp(bytes);
        if (open) socket.write(bytes);
        else pending.push(bytes);
      });
      socket.on('data', (d) => {
        const bytes = new Uint8Array(d);
        watchDown(bytes);
        peer.send(bytes);
      });
      socket.on('close', () => peer.end());
      socket.on('error', () => peer.fail('ECONNRESET'));
      peer.onClose(() => socket.destroy());
    }
    this.links.push(() => {
      stream.destroy();
      peer.fail('ECONNRESET');
    });
  }

  start(): Agent {
    this.agent = createAgent(this.fake, '0.0.0-test');
    this.agent.start();
    return this.agent;
  }

  /** Lets real I/O (the broker, the observer) and the agent's promise chains run without moving the clock. */
  async settle(rounds = 5): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await this.fake.advance(0);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Runs before every step of `until` and `run`, with the clock stopped and no connection attempt awaiting
   * the broker: for a test that acts on what the agent just did (e.g. another client taking over its id).
   */
  onStep(hook: () => Promise<void>): void {
    this.stepHooks.push(hook);
  }

  /** One step of simulated time, once no connection attempt awaits the broker (within its hold). */
  async step(ms: number): Promise<void> {
    await this.holdForBroker();
    for (const hook of this.stepHooks) await hook();
    await this.fake.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
    if (++this.steps % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  /** Advances the clock in steps until the predicate holds; fails after maxSteps with what it was waiting for. */
  async until<T>(what: string, predicate: () => T | null | undefined | false, options: { stepMs?: number; maxSteps?: number } = {}): Promise<T> {
    const stepMs = options.stepMs ?? 100;
    const maxSteps = options.maxSteps ?? 2000;
    for (let i = 0; i < maxSteps; i++) {
      const v = predicate();
      if (v) return v;
      await this.step(stepMs);
    }
    const v = predicate();
    if (v) return v;
    throw new Error(`[test] [harness] gave up waiting for ${what} after ${maxSteps} steps of ${stepMs} ms${this.expiredNote()}\n${this.recent()}`);
  }

  /** Advances the clock by ms in steps, letting I/O run. */
  async run(ms: number, stepMs = 100): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) await this.step(Math.min(stepMs, ms - t));
  }

  /**
   * Lets real I/O and the agent's promise chains run with the clock stopped until done() holds, for what
   * needs only the broker; the real-time limit only bounds a hang.
   */
  async whileStopped<T>(what: string, done: () => T | null | undefined | false, limitMs = 30_000): Promise<T> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const v = done();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`[test] [harness] gave up waiting for ${what} (${limitMs} ms of real time, clock stopped)\n${this.recent()}`);
      await this.fake.advance(0);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Holds the clock while an attempt awaits its CONNACK, each for at most holdMs of real time. */
  private async holdForBroker(): Promise<void> {
    if (this.holdMs === null) return;
    let waited = false;
    for (;;) {
      this.attempts = this.attempts.filter((a) => !a.answered && !a.closed && !a.expired);
      const now = Date.now();
      for (const a of this.attempts) {
        if (now - a.openedAt >= this.holdMs) {
          a.expired = true;
          this.pacing.expired++;
        } else if (!a.held) {
          a.held = true;
          this.pacing.held++;
        }
        this.pacing.longestHoldMs = Math.max(this.pacing.longestHoldMs, Math.min(now - a.openedAt, this.holdMs));
      }
      if (!this.attempts.some((a) => !a.expired)) break;
      waited = true;
      await this.fake.advance(0);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // the CONNACK is in the agent's socket: let it act on it before the clock moves
    if (waited) await this.fake.advance(0);
  }

  private expiredNote(): string {
    return this.pacing.expired ? ` (${this.pacing.expired} connection attempts got no CONNACK within the ${this.holdMs} ms hold)` : '';
  }

  private recent(): string {
    const seen = this.received.map((m) => `${m.topic} ${m.payload.slice(0, 100)}`).slice(-20).join('\n');
    const logs = this.fake.logs.map((l) => `${l.level} ${l.message}`).slice(-20).join('\n');
    return `received:\n${seen}\nlogs:\n${logs}`;
  }

  json(leaf: string): Array<Record<string, any>> {
    return this.received.filter((m) => m.topic === `vigil/v1/${SERIAL}/${leaf}`).map((m) => JSON.parse(m.payload));
  }

  reports(): Array<{ seq: number; reportId: string; health: Record<string, number> } & Record<string, any>> {
    return this.json('report') as never;
  }

  /** Publishes a command as the fleet would. */
  async command(name: string, payload: string | Buffer, options: mqtt.IClientPublishOptions = {}): Promise<void> {
    await (this.observer as MqttJsClient).publishAsync(`vigil/v1/${SERIAL}/cmd/${name}`, payload, { qos: 1, ...options });
  }

  logs(level?: string): string[] {
    return this.fake.logs.filter((l) => !level || l.level === level).map((l) => l.message);
  }

  async close(): Promise<void> {
    this.stepHooks = []; // a test's hooks act on its own run, not on the shutdown
    if (this.agent) await Promise.race([this.agent.stop(), this.run(5000)]);
    this.dropConnections();
    await this.observer?.endAsync(true);
    if (this.server) await new Promise<void>((resolve) => (this.server as net.Server).close(() => resolve()));
    if (this.aedes) await new Promise<void>((resolve) => (this.aedes as Aedes).close(() => resolve()));
  }
}

const fsLike = {
  readdirSync: (p: string) => readdirSync(p),
  readFileSync: (p: string) => new Uint8Array(readFileSync(p)),
  statSync: (p: string) => statSync(p),
};

/** Every seq in 1..max that is missing, and the reportIds seen more than once (after de-duplication none should be). */
export function deliveryAccount(reports: Array<{ seq: number; reportId: string }>): { unique: number; missing: number[]; maxSeq: number; doubledSeqs: number[] } {
  const byId = new Map<string, number>();
  for (const r of reports) byId.set(r.reportId, r.seq);
  const seqs = new Map<number, number>();
  for (const seq of byId.values()) seqs.set(seq, (seqs.get(seq) ?? 0) + 1);
  const maxSeq = Math.max(0, ...seqs.keys());
  const missing: number[] = [];
  for (let s = 1; s <= maxSeq; s++) if (!seqs.has(s)) missing.push(s);
  return { unique: byId.size, missing, maxSeq, doubledSeqs: [...seqs].filter(([, n]) => n > 1).map(([s]) => s) };
}
