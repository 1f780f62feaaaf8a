/**
 * The agent: boot (config, state, outboxes) and the report cycle: every interval it collects a report,
 * queues it on flash (outbox), notes the events it reveals, and makes sure it is on its way. Its parts:
 * the MQTT session (mqtt/session.ts), paced delivery from the outboxes (delivery.ts) and the commands
 * (commands.ts). Everything it touches goes through the Host.
 *
 * Topics (mqtt/topics.ts): `<prefix>/<serial>/state` retained (online/offline/lost, mqtt/session.ts),
 * `report` QoS 1 (the newest retained), `event`, `cmd/+` subscribed (report-now, set-interval, rebaseline,
 * rebirth), `cmd-result` for the replies.
 *
 * State (`<dataDir>/state.json`, one small atomic write per report and per new connection): the session
 * counter, the last seq, the dropped counter, the serial, and an interval set by command.
 */
import type { Host, VapixCredentials } from './host';
import type { AgentConfig } from './config';
import { checkConfig } from './config';
import { BROKER_PARAMS, createSettings } from './settings';
import type { CollectorError, Report, Severity } from './report/types';
import { assembleReport, encodeReport } from './report/build';
import { createFlashOutbox, type Outbox } from './outbox';
import { deviceTopics, type DeviceTopics } from './mqtt/topics';
import { createSession, type MqttSession } from './mqtt/session';
import { createDelivery, type Delivery } from './delivery';
import { createCommandHandler } from './commands';
import { createVapixClient } from './vapix/vapix';
import { type CollectorContext, type CollectorResult, collectorError } from './collectors/context';
import { collectDevice } from './collectors/device/device';
import { collectServices } from './collectors/services/services';
import { collectIntegrity } from './collectors/integrity/integrity';
import { toHex } from './util/bytes';
import { installText, readText, utf8Encode, writeText } from './util/text';
import { errorCode, errorMessage, ignore } from './util/errors';
import { isoNow } from './util/time';
import { detectEvents, EVENT_SCHEMA, parseSnapshot, type Snapshot, type VigilEvent } from './events';
import { areaLog, makeLog } from './log';

const STATE_FILE = 'state.json';
/** What the previous cycle saw, for events (events.ts); written only when it changes. */
const EVENTS_FILE = 'events.json';
const CONFIG_RETRY_MS = 30_000;

interface PersistedState {
  /** The last session counter reserved for a connection (the will and birth carry it). */
  session: number;
  /** Last report sequence number used. */
  seq: number;
  /** Reports dropped since the state was created. */
  dropped: number;
  serial?: string;
  /** An interval set by command, valid while the IntervalSec parameter still equals `base`. */
  interval?: { sec: number; base: number };
  /** The counter of the last signed command accepted (commands.ts): a lower or equal one is a replay. */
  cmdCtr?: number;
}

/** One agent on one host: `start()` once, `stop()` for a planned stop (main.ts: SIGTERM). */
export interface Agent {
  start(): void;
  stop(): Promise<void>;
  /** Collects and queues one report, then makes sure it is on its way (the cycle's timer calls it). */
  runCycle(): Promise<void>;
}

// The body is closures, not a class with private fields: it reads the same and is smaller in the size-budgeted bundle.
export const createAgent = (host: Host, version: string): Agent => {
  installText(host.text);
  const clock = host.clock;
  const log = makeLog(host);
  const say = areaLog(log, 'agent');
  const startedAt = isoNow(clock);
  let config: AgentConfig | null = null;
  let state: PersistedState = { session: 0, seq: 0, dropped: 0 };
  let serial: string | null = null;
  let topics: DeviceTopics | null = null;
  let stopping = false;
  let cycleTimer: number | null = null;
  let cycleRunning = false;
  let cycleAgain = false;
  let intervalSec = 300;
  // Made by boot, once the config is known.
  let outbox: Outbox | null = null;
  let events: Outbox | null = null;
  let session: MqttSession | null = null;
  let delivery: Delivery | null = null;
  let snap: Snapshot | null = null;
  let snapText = '';
  let commandEvents = 0;
  /** Host.info.lastExit is reported once per start, by the first cycle. */
  let restart = true;
  let lastReportBytes = 0;
  let saveFailing = false;
  const settings = createSettings(host, areaLog(log, 'config'));
  /** Where the camera's settings are read: its own VAPIX as param.conf and --config name it (not movable by them). */
  let settingsVapix: AgentConfig['vapixConf'];
  /** The VAPIX credentials last fetched (each cycle), also for reading the settings. */
  let credentials: VapixCredentials | undefined;

  const readSettings = () => settings.read(createVapixClient(host, { ...settingsVapix, credentials }));

  const start = (): void => {
    boot().catch((err) => say('error', `start failed: ${errorMessage(err)}`));
  };

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (cycleTimer !== null) clock.clearTimer(cycleTimer);
    cycleTimer = null;
    if (delivery) delivery.stop();
    if (session) await session.end();
    say('info', 'stopped');
  };

  // ---- start-up -----------------------------------------------------------------------------------

  const boot = async (): Promise<void> => {
    settingsVapix = checkConfig(host.config()).config.vapixConf;
    await getCredentials(settingsVapix);
    const camera = await readSettings();
    try {
      config = settings.first(camera);
    } catch (err) {
      // The error already says `[vigil] [config]`.
      host.log('error', `${errorMessage(err)}; retrying in ${CONFIG_RETRY_MS / 1000} s`);
      cycleTimer = clock.setTimer(CONFIG_RETRY_MS, () => {
        cycleTimer = null;
        start();
      });
      return;
    }
    const c = config;
    await loadState();
    const box = createFlashOutbox(host, c.dataDir, c.outboxConf, areaLog(log, 'outbox'));
    await box.load();
    box.nDropped = Math.max(box.nDropped, state.dropped);
    outbox = box;
    const ev = createFlashOutbox(host, `${c.dataDir}/events`, { maxReports: 32, maxBytes: 1 << 18 }, areaLog(log, 'events'));
    await ev.load();
    events = ev;
    const knownTopics = () => topics as DeviceTopics;
    const s = createSession({
      host,
      agentConf: c,
      agentVer: version,
      log,
      counters: state,
      save: saveState,
      stopping: () => stopping,
      serialNow: () => serial,
      topics: () => topics,
      onOpen: (at) => d.restart(at),
      onReady: () => d.pump(),
      onClose: () => d.forget(),
      onMessage: (client, topic, payload, info) => onCommand(client, topic, payload, info),
    });
    const d = createDelivery({ clock, agentConf: c, log, reportBox: box, eventBox: ev, mqttLink: s, topics: knownTopics, save: saveState });
    const onCommand = createCommandHandler({ clock, log, mqttLink: s, counters: state, save: saveState, serial: () => serial as string, commandKey: () => c.commandKey, crypto: host.crypto,
      topics: knownTopics, runCycle, setReportInterval, collectCtx: context,
      intervalSec: () => intervalSec, driftedFiles: () => (snap && snap.s.files) || [], emitEvent: emitCommandEvent });
    box.busy = ev.busy = d.busy;
    session = s;
    delivery = d;
    try {
      snapText = await readData(EVENTS_FILE, 1 << 17);
      snap = parseSnapshot(snapText);
    } catch {
      // none yet (or unreadable): the next cycle only records what it sees
    }
    // A kill between queueing a report and saving the counter leaves the report's seq only on flash.
    state.seq = Math.max(state.seq, box.maxSeq);
    pickInterval();
    if (state.serial) setSerial(state.serial);
    say('info', `vigil ${version} on ${host.info.name}, report every ${intervalSec} s`);
    // Reports queued by an earlier run go out while the first report is being collected.
    if (box.depth + ev.depth > 0) s.ensureConnected();
    await runCycle();
  };

  /** The IntervalSec parameter, or an interval set by command while that parameter is unchanged. */
  const pickInterval = (): void => {
    const o = state.interval;
    const c = config as AgentConfig;
    intervalSec = o && o.base === c.reportEverySec ? o.sec : c.reportEverySec;
  };

  // ---- the camera's settings page (settings.ts) ----------------------------------------------------

  /**
   * Reads the camera's settings again, at the start of each cycle: a new interval schedules the next cycle, a
   * new broker connects at once, the rest applies from its next use.
   */
  const refresh = async (): Promise<void> => {
    const camera = await readSettings();
    if (!camera || stopping) return;
    const changed = settings.update(camera);
    // Before the topics change: the old connection says offline on the old ones.
    if (changed.some((n) => BROKER_PARAMS.test(n))) (session as MqttSession).reconnectNow().catch(ignore);
    if (serial && changed.indexOf('TopicPrefix') >= 0) setSerial(serial);
    if (changed.indexOf('IntervalSec') >= 0) pickInterval();
  };

  const loadState = async (): Promise<void> => {
    try {
      const p = JSON.parse(await readData(STATE_FILE, 4096)) as Partial<PersistedState>;
      const count = (v: unknown) => (typeof v === 'number' && v >= 0 && v % 1 === 0 ? v : -1);
      if (count(p.session) >= 0 && count(p.seq) >= 0) {
        state = { session: count(p.session), seq: count(p.seq), dropped: Math.max(0, count(p.dropped)) };
        if (typeof p.serial === 'string' && p.serial) state.serial = p.serial;
        const i = p.interval;
        if (i && count(i.sec) >= 1 && count(i.base) >= 1) state.interval = { sec: i.sec, base: i.base };
        if (count(p.cmdCtr) >= 1) state.cmdCtr = p.cmdCtr;
      } else {
        say('warn', `${STATE_FILE} has no valid counters; starting from zero`);
      }
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') say('warn', `cannot read ${STATE_FILE}: ${errorMessage(err)}; starting from zero`);
    }
  };

  const saveState = async (): Promise<void> => {
    const c = config as AgentConfig;
    if (outbox) state.dropped = outbox.nDropped;
    try {
      await host.fs.mkdir(c.dataDir);
      await writeData(STATE_FILE, JSON.stringify(state));
      if (saveFailing) say('info', `${STATE_FILE} is saved again`);
      saveFailing = false;
    } catch (err) {
      // Logged once per outage of the data dir, not once per report.
      if (!saveFailing) say('warn', `cannot save ${STATE_FILE}: ${errorMessage(err)}`);
      saveFailing = true;
    }
  };

  const setSerial = (s: string): void => {
    try {
      topics = deviceTopics(s, (config as AgentConfig).topicPrefix);
      serial = s;
      state.serial = s;
    } catch (err) {
      log('error', 'device', errorMessage(err));
    }
  };

  /** set-interval: the new interval is kept across restarts while the IntervalSec parameter is unchanged. */
  const setReportInterval = async (sec: number): Promise<void> => {
    intervalSec = sec;
    state.interval = { sec, base: (config as AgentConfig).reportEverySec };
    await saveState();
    scheduleCycle(sec * 1000);
  };

  /** An event from a command (commands.ts), queued and sent like the cycle's (eventId: hex, for the outbox). */
  const emitCommandEvent = async (kind: string, severity: Severity, summary: string, details: Record<string, unknown>): Promise<void> => {
    const box = events;
    if (!box || !serial) return;
    const e: VigilEvent = {
      schema: EVENT_SCHEMA, deviceId: serial, eventId: `${snap ? snap.id : ''}c${(++commandEvents).toString(16)}${clock.now().toString(16)}`,
      seq: state.seq, at: isoNow(clock), kind, severity, summary: summary.slice(0, 256), details,
    };
    await box.push(e.eventId, snap ? snap.n : 0, utf8Encode(JSON.stringify(e)));
    if (session) session.ensureConnected();
    if (delivery) delivery.pump();
  };

  // ---- the report cycle ---------------------------------------------------------------------------

  const scheduleCycle = (delayMs: number): void => {
    if (stopping) return;
    if (cycleTimer !== null) clock.clearTimer(cycleTimer);
    cycleTimer = clock.setTimer(delayMs, () => {
      cycleTimer = null;
      runCycle().catch((err) => say('error', `report cycle failed: ${errorMessage(err)}`));
    });
  };

  const runCycle = async (): Promise<void> => {
    if (stopping || !config || !session || !delivery) return;
    if (cycleRunning) {
      cycleAgain = true;
      return;
    }
    const c = config;
    const box = outbox as Outbox;
    cycleRunning = true;
    const started = clock.monotonic();
    try {
      await refresh().catch((err) => log('error', 'config', errorMessage(err)));
      // Room is made before the report is built, so the report itself carries the drops it caused.
      await box.makeRoom(lastReportBytes);
      const report = await collectReport(started);
      if (report) {
        let encoded;
        try {
          encoded = encodeReport(report, c.maxReportBytes);
        } catch (err) {
          // Never sent oversize (a poison pill for brokers); the lost seq is counted so the gap is explained.
          box.nDropped++;
          throw err;
        }
        if (encoded.truncated) log('warn', 'report', `report ${report.seq} cut to fit ${c.maxReportBytes} bytes`);
        lastReportBytes = encoded.bytes.length;
        await box.push(report.reportId, report.seq, encoded.bytes);
        await detect(report);
        await saveState();
        session.ensureConnected();
        delivery.pump();
      }
    } catch (err) {
      log('error', 'report', `cannot build report: ${errorMessage(err)}`);
      await saveState();
    } finally {
      cycleRunning = false;
      if (cycleAgain) {
        cycleAgain = false;
        scheduleCycle(0);
      } else scheduleCycle(intervalSec * 1000);
    }
  };

  /** Queues the events this report reveals (events.ts), then keeps what it saw for the next cycle. */
  const detect = async (report: Report): Promise<void> => {
    try {
      const found = detectEvents(snap, report, restart ? host.info.lastExit : null);
      restart = false;
      const box = events as Outbox;
      for (const e of found.events) await box.push(e.eventId, found.next.n, utf8Encode(JSON.stringify(e)));
      if (box.nDropped) log('warn', 'events', `event queue full: dropped the ${box.nDropped} oldest undelivered events`);
      box.nDropped = 0;
      snap = found.next;
      const text = JSON.stringify(found.next);
      if (text !== snapText) {
        await writeData(EVENTS_FILE, text);
        snapText = text;
      }
    } catch (err) {
      // A full data dir is logged once, by saveState.
      if (!saveFailing) log('warn', 'events', `cannot queue events or save ${EVENTS_FILE}: ${errorMessage(err)}`);
    }
  };

  const collectReport = async (started: number): Promise<Report | null> => {
    const box = outbox as Outbox;
    const errors: CollectorError[] = [];
    const ctx = await context(errors);

    const { device, os } = take(errors, await collectDevice(ctx));
    const id = device.serial || serial;
    if (!id) {
      log('error', 'device', `serial number unknown, no report this cycle: ${errors.map((e) => e.message).join('; ')}`);
      return null;
    }
    if (serial && id !== serial) {
      log('warn', 'device', `serial changed from ${serial} to ${id}; keeping ${serial} for this session`);
    }
    if (!serial) setSerial(id);
    if (!serial) return null;

    const integrity = take(errors, await collectIntegrity(ctx, { soc: device.soc, osVersion: os.version }));
    // The integrity collector already asked applications/config.cgi; services reuses the answer.
    const allowUnsignedApps = integrity.allowUnsignedApps;
    const services = take(errors, await collectServices(ctx, allowUnsignedApps !== null ? { unsignedAllowed: allowUnsignedApps } : undefined));

    state.seq++;
    const memory = host.memory();
    const oldest = box.oldestQueuedAt();
    return assembleReport({
      deviceId: serial,
      seq: state.seq,
      reportId: toHex(new Uint8Array(host.crypto.randomBytes(8))),
      sentAt: isoNow(clock),
      intervalSec,
      device,
      os,
      services,
      integrity,
      health: {
        agentVersion: version,
        host: host.info.name,
        startedAt,
        heapUsedBytes: whole(memory.usedBytes),
        heapLimitBytes: whole(memory.limitBytes),
        queueDepth: box.depth,
        dropped: box.nDropped,
        oldestQueuedAgeSec: oldest === null ? 0 : whole((clock.monotonic() - oldest) / 1000),
        reconnects: (session as MqttSession).reconnects,
        collectMs: whole(clock.monotonic() - started),
        lastExit: host.info.lastExit,
      },
      errors: errors.slice(0, 64),
    });
  };

  /** What the collectors get; a failure to fetch the VAPIX credentials is added to `errors`. */
  const context = async (errors: CollectorError[]): Promise<CollectorContext> => {
    const c = config as AgentConfig;
    // host, port and timeoutMs from the config
    const vapix = createVapixClient(host, { ...c.vapixConf, credentials: await getCredentials(c.vapixConf, errors) });
    return { host, agentConf: c, vapixApi: vapix };
  };

  /** The host's VAPIX credentials, else the configured ones; a failure to fetch them is added to `errors`. */
  const getCredentials = async (v: AgentConfig['vapixConf'], errors?: CollectorError[]): Promise<VapixCredentials | undefined> => {
    let found = v.username ? { username: v.username, password: v.password || '' } : undefined;
    if (host.vapixCredentials) {
      // Service accounts are wiped on reboot (reference §3.1): fetch them each time, keep them in memory only.
      try {
        found = await host.vapixCredentials();
      } catch (err) {
        errors?.push(collectorError('vapix', errorCode(err), `GetCredentials failed: ${errorMessage(err)}`));
      }
    }
    return (credentials = found);
  };

  const readData = (name: string, maxBytes: number): Promise<string> => readText(host.fs, `${(config as AgentConfig).dataDir}/${name}`, maxBytes);

  const writeData = (name: string, text: string): Promise<void> => writeText(host.fs, `${(config as AgentConfig).dataDir}/${name}`, text);

  return { start, stop, runCycle };
};

/**
 * A collector's value, its errors added to the report's. The collectors guard themselves (runCollector in
 * collectors/context.ts turns any failure into an error entry and a fallback value), so nothing here throws.
 */
const take = <T>(errors: CollectorError[], result: CollectorResult<T>): T => {
  for (const e of result.errors) errors.push(e);
  return result.value;
};

/** A measured amount as the report's non-negative integer. */
const whole = (n: number) => Math.max(0, Math.round(n));
