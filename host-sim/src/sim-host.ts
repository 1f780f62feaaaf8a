/**
 * SimHost: the Node implementation of Host for one simulated camera, assembled from one file per capability
 * (host/fs.ts, net.ts, crypto.ts, clock.ts, text.ts, log.ts, config.ts), as host-native has one host_<area>.c each.
 * The device's fault switches live in one object, `host.device` (host/device.ts), that faults.ts and tests
 * change while the agent runs.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host, HostClock, HostCrypto, HostFs, HostNet, HostText, LogLevel, RuntimeInfo, RuntimeMemory, VapixCredentials } from '../../agent/src/host';
import { HOST_API_VERSION } from '../../agent/src/host';
import type { LoadedProfile } from './profiles';
import { SimClock } from './host/clock';
import { buildConfig, DEFAULT_DATA_DIR, hasDbusCredentials } from './host/config';
import { realHashClock, SimCrypto, type HashClock } from './host/crypto';
import { healthyDevice, type SimDevice } from './host/device';
import { DeviceFiles, normalizeDevicePath, prepareStateDir } from './host/fs';
import { stderrLogSink, type LogSink } from './host/log';
import { SimSockets, type SocketsOptions } from './host/net';
import { simText } from './host/text';

// Imported from here by the CLI, the end-to-end tests, bench/ and host-native's tests.
export { buildConfig, DEFAULT_DATA_DIR, hasDbusCredentials, VAPIX_DBUS_CREDENTIALS_SINCE } from './host/config';
export { formatLogRecord, lineLogSink, memoryLogSink, silentLogSink, stderrLogSink, type LogRecord, type LogSink } from './host/log';

export const HOST_SIM_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export interface SimHostOptions {
  profile: LoadedProfile;
  /** Writable per-camera directory that backs the data dir (created if missing). */
  stateDir: string;
  /** Config values over the profile's agent parameters (BrokerHost, BrokerPort, VapixPort…). */
  overrides?: Record<string, string>;
  log?: LogSink;
  bundleSha256?: string | null;
  lastExit?: string | null;
  /** The clock sha256File paces itself by; tests inject a virtual one to check the cap without waiting. */
  hashClock?: HashClock;
  /** The folder the device's files come from; the profile's rootfs/ when absent (faults.ts gives a private copy). */
  rootfsDir?: string;
  /** Told of every connection the agent makes once it is up (host/net.ts, SocketsOptions.onConnected). */
  onConnected?: SocketsOptions['onConnected'];
}

export class SimHost implements Host {
  readonly apiVersion = HOST_API_VERSION;
  readonly info: RuntimeInfo;
  readonly serial: string;
  readonly profile: LoadedProfile;
  readonly stateDir: string;
  readonly dataDir: string;
  /** The fault switches (disk full, broker down, clock offset…) and the rootfs the device reads. */
  readonly device: SimDevice;

  readonly fs: HostFs;
  readonly net: HostNet;
  readonly crypto: HostCrypto;
  readonly clock: HostClock;
  readonly text: HostText = simText;

  private readonly configValues: Record<string, string>;
  private readonly overrideValues: Record<string, string>;
  private readonly logSink: LogSink;
  private readonly sockets: SimSockets;
  private readonly timers: SimClock;
  private memorySource: (() => RuntimeMemory) | null = null;
  private closed = false;
  private readonly credentials: VapixCredentials | null;

  constructor(options: SimHostOptions) {
    const p = options.profile.data;
    this.profile = options.profile;
    this.device = healthyDevice(options.rootfsDir ?? options.profile.rootfsDir);
    this.serial = p.identity.serialNumber;
    this.stateDir = path.resolve(options.stateDir);
    this.logSink = options.log ?? stderrLogSink();
    this.configValues = buildConfig(options.profile, options.overrides ?? {});
    this.overrideValues = Object.fromEntries(Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
    this.dataDir = normalizeDevicePath(this.configValues.DataDir || DEFAULT_DATA_DIR);
    this.info = {
      name: 'host-sim',
      version: HOST_SIM_VERSION,
      bundleSha256: options.bundleSha256 ?? null,
      lastExit: options.lastExit ?? null,
    };

    const closed = () => this.closed;
    const files = new DeviceFiles(this.device, this.stateDir, this.dataDir);
    this.fs = files.fs;
    this.sockets = new SimSockets({
      device: this.device,
      broker: { host: this.configValues.BrokerHost, port: String(this.configValues.BrokerPort || '1883') },
      fs: this.fs,
      closed,
      onConnected: options.onConnected,
    });
    this.net = this.sockets.net;
    this.crypto = new SimCrypto(files, options.hashClock ?? realHashClock, closed).crypto;
    this.timers = new SimClock(this.device, closed);
    this.clock = this.timers.clock;

    this.credentials = hasDbusCredentials(options.profile) ? { ...p.vapix.credentials } : null;
    if (this.credentials) {
      const creds = this.credentials;
      this.vapixCredentials = () => Promise.resolve({ ...creds });
    }
  }

  /** Local VAPIX credentials, present only when the profile's AXIS OS has D-Bus GetCredentials (≥ 11.9). */
  vapixCredentials?: () => Promise<VapixCredentials>;

  /**
   * Creates the state directory and, on first start only, seeds it from the profile's localdata/
   * (a shipped prior baseline, for instance). Call before the agent runs.
   */
  async prepare(): Promise<void> {
    await prepareStateDir(this.stateDir, this.profile);
  }

  /** Where Host.memory() gets its numbers (the QuickJS runner). */
  attachRuntime(source: { memory(): RuntimeMemory }): void {
    this.memorySource = () => source.memory();
  }

  /** Closes every socket and timer. The host answers nothing afterwards. */
  close(): void {
    this.closed = true;
    this.sockets.closeAll();
    this.timers.clearAll();
  }

  /** Drops every connection to the broker at once (a broker restart or a network cut, seen from the camera). */
  dropBrokerConnections(): number {
    return this.sockets.dropBrokerConnections();
  }

  /** Timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.pending();
  }

  openSockets(): number {
    return this.sockets.count();
  }

  log(level: LogLevel, message: string): void {
    this.logSink({ time: new Date(this.clock.now()).toISOString(), serial: this.serial, level, message: String(message) });
  }

  config(): Record<string, string> {
    return { ...this.configValues };
  }

  /** The caller's overrides (the CLI's --set, a test's): they win over the camera's settings page. */
  configOverrides(): Record<string, string> {
    return { ...this.overrideValues };
  }

  memory(): RuntimeMemory {
    return this.memorySource ? this.memorySource() : { usedBytes: 0, limitBytes: 0 };
  }
}
