// The tables from another folder (`vigil fleet --data DIR`), reloaded on change without a restart: a good change
// is taken and re-evaluates the fleet, a bad one keeps the tables in use and says why.
import mqtt from 'mqtt';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../test/helpers/broker';
import { waitUntil } from '../../test/helpers/wait';
import { runFleet } from '../src/cli';
import { DATA_DIR } from '../src/data';
import { watchTables } from '../src/data-watch';
import { startFleet, type Fleet } from '../src/fleet';
import type { LogLevel } from '../src/log';
import { makeReport } from './fixtures';

const NOW = Date.parse('2026-12-02T12:00:00Z');

function dataCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-data-'));
  cpSync(DATA_DIR, dir, { recursive: true });
  return dir;
}

function addAdvisory(dir: string, id: string, prefix: string): void {
  const file = join(dir, 'advisories.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  data.updated = '2026-12-03';
  data.advisories.push({ id, title: `Test advisory for ${prefix}`, cvss: 8.8, affected: [{ prefix, fixed: null, fixConfirmed: false }] });
  writeFileSync(file, JSON.stringify(data, null, 2));
}

describe('watching the data folder', () => {
  it('takes a valid change and hands over the new tables', () => {
    const dir = dataCopy();
    const got: string[] = [];
    const w = watchTables(dir, (t) => got.push(t.advisories.updated), () => undefined, 0);
    expect(w.check()).toBe(false);
    addAdvisory(dir, 'CVE-2026-0001', '12.11');
    expect([w.check(), got]).toEqual([true, ['2026-12-03']]);
  });
  it('keeps the tables in use when a changed file is bad, and says which file and why, once', () => {
    const dir = dataCopy();
    const logs: Array<[LogLevel, string]> = [];
    const got: unknown[] = [];
    const w = watchTables(dir, (t) => got.push(t), (level, m) => logs.push([level, m]), 0);
    writeFileSync(join(dir, 'lifecycle.json'), '{ "schema": "vigil.lifecycle/1", ');
    expect([w.check(), w.check()]).toEqual([false, false]);
    expect(got).toEqual([]);
    expect(logs).toHaveLength(1);
    expect(logs[0][0]).toBe('error');
    expect(logs[0][1]).toMatch(/^the data in .* changed but cannot be used; keeping the tables in use: cannot read .*lifecycle\.json/);
  });
  it('takes the folder again once the bad file is mended', () => {
    const dir = dataCopy();
    const good = readFileSync(join(dir, 'lifecycle.json'), 'utf8');
    const got: unknown[] = [];
    const w = watchTables(dir, (t) => got.push(t), () => undefined, 0);
    writeFileSync(join(dir, 'lifecycle.json'), '{}');
    w.check();
    writeFileSync(join(dir, 'lifecycle.json'), good);
    expect([w.check(), got.length]).toEqual([true, 1]);
  });
  it('refuses a schema violation in a changed actions file', () => {
    const dir = dataCopy();
    const logs: string[] = [];
    const w = watchTables(dir, () => undefined, (_l, m) => logs.push(m), 0);
    const bad = JSON.parse(readFileSync(join(dir, 'actions.json'), 'utf8'));
    delete bad.integrity['file-drift'];
    writeFileSync(join(dir, 'actions.json'), JSON.stringify(bad));
    expect(w.check()).toBe(false);
    expect(logs[0]).toContain("actions.json does not match schemas/actions.schema.json: /integrity must have required property 'file-drift'");
  });
});

describe('a running fleet on another data folder', () => {
  let broker: EmbeddedBroker;
  let fleet: Fleet;
  let dir: string;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0 });
    dir = dataCopy();
    fleet = await startFleet({ brokerUrl: broker.url, http: null, dataDir: dir, dataWatchMs: 0, now: () => NOW, sweepMs: 0 });
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'test-pub-data', reconnectPeriod: 0 });
    for (const [serial, version] of [['CAMD12', '12.11.147'], ['CAMD11', '11.11.248']]) {
      await pub.publishAsync(`vigil/v1/${serial}/report`, JSON.stringify(makeReport({ serial, version })), { qos: 1 });
    }
    await pub.endAsync();
    await waitUntil('both reports stored', () => fleet.consumer.cameras().length === 2, { timeoutMs: 30_000 });
  });
  afterAll(async () => {
    await fleet?.stop();
    await broker?.close();
  });
  it('evaluates the matching cameras again when an advisory is added to the folder, and alerts exactly those, without a restart', async () => {
    const raised: Array<{ serial: string; condition: string }> = [];
    fleet.alerts.on('alert', (a: { serial: string; condition: string }) => raised.push(a));
    addAdvisory(dir, 'CVE-2026-0002', '12.11');
    expect(fleet.tablesWatch?.check()).toBe(true);
    await fleet.consumer.settled();
    expect(raised.map((a) => [a.serial, a.condition])).toEqual([['CAMD12', 'advisory:CVE-2026-0002']]);
    expect(fleet.consumer.camera('CAMD12')?.evaluation?.advisories.map((a) => a.id)).toContain('CVE-2026-0002');
    expect(fleet.consumer.camera('CAMD11')?.evaluation?.advisories.map((a) => a.id)).not.toContain('CVE-2026-0002');
    expect(fleet.consumer.worklist().data.advisories).toBe('2026-12-03');
  });
});

describe('vigil fleet --data', () => {
  it('exits 1 with one clear line when the folder has no tables', async () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    const code = await runFleet(['--broker', 'mqtt://127.0.0.1:1', '--db', ':memory:', '--http', 'off', '--data', '/nonexistent-vigil-data'], { out: new PassThrough(), err });
    expect(code).toBe(1);
    expect(text).toMatch(/^\[vigil\] \[fleet\] cannot read \/nonexistent-vigil-data\/lifecycle\.json: ENOENT/);
  });
});
