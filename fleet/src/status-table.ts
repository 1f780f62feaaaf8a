/**
 * A terminal view of the fleet, fed straight from the broker: the retained state and report of every
 * camera under the prefix. Used by `vigil demo`; the fleet consumer (fleet/) is the durable view.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Report } from '../../agent/src/report/types';

export interface CameraRow {
  serial: string;
  model: string;
  os: string;
  findings: number;
  integrity: string;
  online: boolean | null;
  session: number | null;
  lastSeq: number | null;
  reports: number;
  /** Why the agent's previous run ended abnormally (health.lastExit, the reason without its time), or null. */
  lastExit: string | null;
}

export class StatusTable {
  readonly rows = new Map<string, CameraRow>();
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly prefix: string;

  constructor(private readonly options: { broker: { host: string; port: number }; prefix?: string; live?: boolean; username?: string; password?: string }) {
    this.prefix = options.prefix ?? 'vigil/v1';
  }

  async start(): Promise<void> {
    const { host, port } = this.options.broker;
    this.client = await mqtt.connectAsync(`mqtt://${host}:${port}`, {
      clientId: `vigil-table-${process.pid}-${Date.now()}`,
      reconnectPeriod: 1000,
      username: this.options.username,
      password: this.options.password,
    });
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await this.client.subscribeAsync([`${this.prefix}/+/state`, `${this.prefix}/+/report`], { qos: 1 });
    if (this.options.live) {
      this.timer = setInterval(() => process.stdout.write('\x1b[2J\x1b[H' + this.render() + '\n'), 1000);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.endAsync();
  }

  private row(serial: string): CameraRow {
    let row = this.rows.get(serial);
    if (!row) {
      row = { serial, model: '?', os: '?', findings: 0, integrity: '?', online: null, session: null, lastSeq: null, reports: 0, lastExit: null };
      this.rows.set(serial, row);
    }
    return row;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    const leaf = parts[parts.length - 1];
    const serial = parts[parts.length - 2];
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // not ours to judge here; the fleet consumer quarantines bad payloads
    }
    if (!body || typeof body !== 'object') return;
    const row = this.row(serial);
    if (leaf === 'state') {
      const state = body as { state?: string; session?: number };
      // A will from an older connection must not mark a reconnected camera offline.
      if (typeof state.session === 'number' && row.session !== null && state.session < row.session) return;
      row.session = typeof state.session === 'number' ? state.session : row.session;
      row.online = state.state === 'online';
    } else if (leaf === 'report') {
      const r = body as Partial<Report>;
      row.model = r.device?.model ?? '?';
      row.os = r.os?.version ?? '?';
      row.findings = r.services?.findings?.length ?? 0;
      row.integrity = r.integrity?.status ?? '?';
      row.lastSeq = typeof r.seq === 'number' ? r.seq : row.lastSeq;
      // "out of memory at 2026-…; restarted by the host": the reason is what fits a table cell.
      const lastExit = r.health?.lastExit;
      row.lastExit = typeof lastExit === 'string' && lastExit ? lastExit.split(' at ')[0].slice(0, 40) : null;
      row.reports++;
    }
  }

  render(): string {
    const header = ['CAMERA', 'MODEL', 'AXIS OS', 'FINDINGS', 'INTEGRITY', 'ONLINE', 'SEQ', 'LAST EXIT'];
    const lines = [...this.rows.values()]
      .sort((a, b) => a.serial.localeCompare(b.serial))
      .map((r) => [r.serial, r.model, r.os, String(r.findings), r.integrity, r.online === null ? '?' : r.online ? 'yes' : 'NO', String(r.lastSeq ?? '-'), r.lastExit ?? '-']);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
    return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
  }
}
