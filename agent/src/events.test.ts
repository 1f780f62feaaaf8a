/**
 * events.ts: previous snapshot + report → events + next snapshot. Each test builds a short run of reports
 * (the first cycle only establishes what was seen) and checks what the later cycles emit.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { detectEvents, parseSnapshot, MAX_LIST, type Snapshot, type VigilEvent } from './events';
import type { AppInfo, CollectorError, FileChange, Finding, Report, ServiceEntry } from './report/types';
import { assertValidEvent } from '../../test/helpers/schemas';
import { check, seeds } from '../../test/helpers/fc-seed';

const BASELINE = '2026-11-01T00:00:00.000Z';
const SSH: ServiceEntry = { name: 'ssh', configured: 'on', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 22 }] };
const SSH_FINDING: Finding = { id: 'ssh-enabled', control: 'B14', severity: 'medium', summary: 'SSH is enabled', evidence: ['Network.SSH.Enabled=yes'] };
const HTTPS: ServiceEntry = { name: 'https', configured: 'on', listening: [{ proto: 'tcp', address: '0.0.0.0', port: 443 }] };

interface Parts {
  changes?: FileChange[];
  totalChanges?: number;
  baseline?: string | null;
  apps?: AppInfo[];
  allowUnsignedApps?: boolean | null;
  secureBoot?: boolean | null;
  entries?: ServiceEntry[];
  findings?: Finding[];
  errors?: CollectorError[];
  status?: Report['integrity']['status'];
}

let seq = 0;
function report(p: Parts = {}): Report {
  seq++;
  const changes = p.changes ?? [];
  return {
    schema: 'vigil.report/1',
    deviceId: 'ACCC8EF3A1C2',
    seq,
    reportId: (0x1000_0000_0000_0000n + BigInt(seq)).toString(16),
    sentAt: new Date(Date.UTC(2026, 10, 25, 12, 0, seq)).toISOString(),
    intervalSec: 300,
    device: { serial: 'ACCC8EF3A1C2', model: 'M3086-V', fullName: null, brand: 'AXIS', productType: null, hardwareId: null, soc: 'Axis Artpec-8', architecture: 'aarch64', uptimeSec: 100 },
    os: { version: '12.11.77', buildDate: null, firmware: null },
    services: { entries: p.entries ?? [HTTPS], findings: p.findings ?? [], totalListening: 1 },
    integrity: {
      status: p.status ?? (changes.length ? 'changed' : 'ok'),
      baseline: p.baseline === null ? null : { createdAt: p.baseline ?? BASELINE, files: 42 },
      changes,
      totalChanges: p.totalChanges ?? changes.length,
      platform: { signedOs: true, secureBoot: p.secureBoot === undefined ? true : p.secureBoot, edgeVault: true },
      apps: p.apps ?? [],
      allowUnsignedApps: p.allowUnsignedApps === undefined ? false : p.allowUnsignedApps,
      agentBundleSha256: null,
    },
    health: {
      agentVersion: '0.0.0-test', host: 'fake', startedAt: '2026-11-25T12:00:00.000Z', heapUsedBytes: 1, heapLimitBytes: 2,
      queueDepth: 0, dropped: 0, oldestQueuedAgeSec: 0, reconnects: 0, collectMs: 1, lastExit: null,
    },
    errors: p.errors ?? [],
  };
}

/** Runs the cycles from no snapshot; returns the events of each cycle and the last snapshot. */
function cycles(...reports: Array<Report | [Report, string]>): { events: VigilEvent[][]; snap: Snapshot } {
  let snap: Snapshot | null = null;
  const events: VigilEvent[][] = [];
  for (const item of reports) {
    const [r, lastExit] = Array.isArray(item) ? item : [item, null];
    const out = detectEvents(snap, r, lastExit);
    out.events.forEach(assertValidEvent);
    events.push(out.events);
    snap = out.next;
  }
  return { events, snap: snap as Snapshot };
}

const changed = (path: string): FileChange => ({ path, change: 'changed', before: 'a'.repeat(64), after: 'b'.repeat(64) });
const app = (name: string, signatureStatus: string | null): AppInfo => ({ name, niceName: null, vendor: null, version: '1.0', status: 'Running', signatureStatus });
const paramError: CollectorError = { collector: 'services', code: 'ETIMEDOUT', message: '[vigil] [vapix] param.cgi timed out' };

describe('integrity drift', () => {
  it('emits nothing on the first cycle, even when the camera already has drift, findings and a restart reason', () => {
    const { events } = cycles(report({ changes: [changed('/etc/passwd')], entries: [SSH], findings: [SSH_FINDING] }));
    expect(events[0]).toEqual([]);
  });

  it('emits one high integrity-drift naming the file when a file is modified', () => {
    const { events } = cycles(report(), report({ changes: [changed('/usr/bin/sshd')] }));
    expect(events[1]).toHaveLength(1);
    expect(events[1][0]).toMatchObject({
      kind: 'integrity-drift',
      severity: 'high',
      details: { files: { added: ['changed /usr/bin/sshd'], removed: [], addedCount: 1, removedCount: 0 } },
    });
    expect(events[1][0].summary).toContain('/usr/bin/sshd');
  });

  it('does not repeat the event while the same drift persists', () => {
    const drift = { changes: [changed('/usr/bin/sshd')] };
    const { events } = cycles(report(), report(drift), report(drift), report(drift));
    expect(events.map((e) => e.length)).toEqual([0, 1, 0, 0]);
  });

  it('emits nothing when a rebaseline clears the drift, and reports drift against the new baseline afterwards', () => {
    const later = '2026-11-25T13:00:00.000Z';
    const { events } = cycles(
      report(),
      report({ changes: [changed('/usr/bin/sshd')] }),
      report({ baseline: later }),
      report({ baseline: later, changes: [changed('/etc/passwd')] }),
    );
    expect(events[2]).toEqual([]);
    expect(events[3].map((e) => e.details)).toEqual([{ files: { added: ['changed /etc/passwd'], removed: [], addedCount: 1, removedCount: 0 } }]);
  });

  it('reports a file going back to its baseline content as a medium drift that removes it', () => {
    const { events } = cycles(report(), report({ changes: [changed('/usr/bin/sshd')] }), report());
    expect(events[2]).toMatchObject([{ kind: 'integrity-drift', severity: 'medium', details: { files: { added: [], removed: ['changed /usr/bin/sshd'] } } }]);
  });

  it('counts drift beyond the report list, so more changed files still show when the list is full', () => {
    const list = Array.from({ length: 3 }, (_, i) => changed(`/usr/bin/f${i}`));
    const { events } = cycles(report(), report({ changes: list, totalChanges: 150 }), report({ changes: list, totalChanges: 151 }));
    expect(events[2]).toMatchObject([{ kind: 'integrity-drift', details: { files: { added: ['148 more'], removed: ['147 more'] } } }]);
  });

  it('rates a newly installed unsigned app high and a signed one medium', () => {
    const unsigned = cycles(report(), report({ apps: [app('tool', 'Unsigned')] })).events[1];
    const signed = cycles(report(), report({ apps: [app('tool', 'Signed')] })).events[1];
    expect(unsigned).toMatchObject([{ kind: 'integrity-drift', severity: 'high', details: { apps: { added: ['tool 1.0 Unsigned'] } } }]);
    expect(signed).toMatchObject([{ kind: 'integrity-drift', severity: 'medium' }]);
  });

  it('reports a changed platform fact (AllowUnsigned turned on) as a medium drift', () => {
    const { events } = cycles(report(), report({ allowUnsignedApps: true }));
    expect(events[1]).toMatchObject([
      { kind: 'integrity-drift', severity: 'medium', details: { platform: { added: ['allowUnsignedApps=true'], removed: ['allowUnsignedApps=false'] } } },
    ]);
  });
});

describe('service change', () => {
  it('emits a service-change carrying the ssh-enabled finding, at its severity, when SSH is newly enabled', () => {
    const { events } = cycles(report(), report({ entries: [HTTPS, SSH], findings: [SSH_FINDING] }));
    expect(events[1]).toHaveLength(1);
    expect(events[1][0]).toMatchObject({
      kind: 'service-change',
      severity: 'medium',
      details: {
        services: { added: ['ssh'], removed: [] },
        listening: { added: ['tcp 0.0.0.0:22'], removed: [] },
        findings: { added: ['ssh-enabled'], removed: [] },
      },
    });
  });

  it('rates a change that adds no finding low (SSH switched off again)', () => {
    const on = { entries: [HTTPS, SSH], findings: [SSH_FINDING] };
    const { events } = cycles(report(on), report());
    expect(events[1]).toMatchObject([{ kind: 'service-change', severity: 'low', details: { findings: { added: [], removed: ['ssh-enabled'] } } }]);
  });

  it('ignores UDP client sockets on ephemeral ports (32768 and up)', () => {
    const client: ServiceEntry = { name: 'udp/40123', configured: 'unknown', listening: [{ proto: 'udp', address: '0.0.0.0', port: 40123 }] };
    const { events } = cycles(report(), report({ entries: [HTTPS, client] }));
    expect(events[1]).toEqual([]);
  });
});

describe('collection failures', () => {
  it('does not take a param.cgi failure for a change, and reports after recovery what changed meanwhile', () => {
    const on = { entries: [HTTPS, SSH], findings: [SSH_FINDING] };
    const { events } = cycles(report(), report({ entries: [], errors: [paramError] }), report(on));
    expect(events[1]).toEqual([]);
    expect(events[2]).toMatchObject([{ kind: 'service-change', details: { services: { added: ['ssh'] } } }]);
  });

  it('emits nothing when the failure ends and nothing changed', () => {
    const { events } = cycles(report(), report({ entries: [], errors: [paramError] }), report());
    expect(events.flat()).toEqual([]);
  });

  it('takes what a lasting failure shows silently after three cycles, then compares normally', () => {
    const failing = { entries: [], errors: [paramError] };
    const { events, snap } = cycles(report(), report(failing), report(failing), report(failing), report(failing));
    expect(events.flat()).toEqual([]);
    expect(snap.s.services).toEqual([]);
  });

  it('keeps the file drift it knew while the integrity collector fails', () => {
    const drift = { changes: [changed('/usr/bin/sshd')] };
    const broken = { status: 'error' as const, baseline: null, errors: [{ collector: 'integrity', code: 'EIO', message: '[vigil] [integrity] cannot read' }] };
    const { events } = cycles(report(), report(drift), report(broken), report(drift));
    expect(events.map((e) => e.length)).toEqual([0, 1, 0, 0]);
  });
});

describe('agent restart', () => {
  it('emits one medium agent-restart with the reason when the host restarted the agent', () => {
    const { events } = cycles([report(), 'memory-limit']);
    expect(events[0]).toMatchObject([{ kind: 'agent-restart', severity: 'medium', details: { lastExit: 'memory-limit' } }]);
    expect(events[0][0].summary).toContain('memory-limit');
  });

  it('emits no agent-restart when the previous run ended normally', () => {
    expect(cycles(report(), report()).events.flat()).toEqual([]);
  });
});

describe('bounded payloads', () => {
  it('lists at most 20 entries per part, with the true counts beside them', () => {
    const many = Array.from({ length: 60 }, (_, i) => changed(`/usr/bin/${'x'.repeat(300)}${i}`));
    const { events } = cycles(report(), report({ changes: many }));
    const files = events[1][0].details.files as { added: string[]; addedCount: number };
    expect(files.added).toHaveLength(MAX_LIST);
    expect(files.addedCount).toBe(60);
    expect(Math.max(...files.added.map((x) => x.length))).toBeLessThanOrEqual(200);
    expect(events[1][0].summary.length).toBeLessThanOrEqual(256);
  });
});

describe('event ids', () => {
  it('gives every event a distinct id, and continues the same sequence after a restart from the saved snapshot', () => {
    const a = cycles(report(), report({ changes: [changed('/a')] }), [report({ changes: [changed('/b')], entries: [HTTPS, SSH] }), 'memory-limit']);
    const ids = a.events.flat().map((e) => e.eventId);
    const restored = parseSnapshot(JSON.stringify(a.snap)) as Snapshot;
    const after = detectEvents(restored, report({ changes: [changed('/c')], entries: [HTTPS, SSH] }), null).events;
    const all = ids.concat(after.map((e) => e.eventId));
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
    expect(all.every((id) => id.startsWith(a.snap.id))).toBe(true);
  });

  it('gives the same id again when a kill lost the snapshot and the same change is found again', () => {
    const first = cycles(report());
    const r = report({ changes: [changed('/a')] });
    const once = detectEvents(first.snap, r, null).events;
    const again = detectEvents(parseSnapshot(JSON.stringify(first.snap)), { ...r, reportId: 'ffffffffffffffff' }, null).events;
    expect(again.map((e) => e.eventId)).toEqual(once.map((e) => e.eventId));
  });

  it('refuses a snapshot that is not one (then the next cycle starts afresh)', () => {
    for (const text of ['', 'null', '{"v":1}', '{"v":1,"id":"xyz","n":0,"s":{},"e":{},"k":{}}', '{"v":1,"id":"abcdef0123","n":0,"s":{"files":3},"e":{},"k":{}}']) {
      expect(parseSnapshot(text), text).toBeNull();
    }
  });
});

describe('properties', () => {
  const entries = fc.subarray([SSH, HTTPS, { name: 'ftp', configured: 'on', listening: [] } as ServiceEntry]);
  const cycle = fc.record({
    changes: fc.array(fc.constantFrom('/a', '/b', '/c', `/${'z'.repeat(500)}`), { maxLength: 4 }).map((ps) => Array.from(new Set(ps)).map(changed)),
    entries,
    apps: fc.subarray([app('one', 'Signed'), app('two', null), app('three', 'Unsigned')]),
    fail: fc.boolean(),
    lastExit: fc.option(fc.string({ maxLength: 2000 }), { nil: null }),
  });

  it.each(seeds(3301))('any run of cycles gives schema-valid, bounded events with distinct ids (%s)', (_l, seed) => {
    check(
      fc.property(fc.array(cycle, { minLength: 1, maxLength: 12 }), (run) => {
        let snap: Snapshot | null = null;
        const ids = new Set<string>();
        for (const c of run) {
          const r = report({ changes: c.changes, entries: c.entries, apps: c.apps, errors: c.fail ? [paramError] : [] });
          const out = detectEvents(snap, r, c.lastExit);
          for (const e of out.events) {
            assertValidEvent(e);
            expect(JSON.stringify(e).length).toBeLessThan(16_000);
            expect(ids.has(e.eventId)).toBe(false);
            ids.add(e.eventId);
          }
          snap = parseSnapshot(JSON.stringify(out.next));
          expect(snap).not.toBeNull();
        }
      }),
      seed,
      200,
    );
  });
});
