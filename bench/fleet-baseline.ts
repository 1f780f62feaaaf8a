/**
 * Named fleet baselines: the figures of one full `npm run bench -- fleet` run kept under a name (e.g. "issue14",
 * the consumer as it was when issue 14 started), so that a later run of changed code prints "vs today". A stored
 * baseline is another run: it is compared only as long as the machine's CPU model is the same, and the row says
 * when and where it was measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO, RESULTS, type Machine } from './lib';

export interface FleetBaseline {
  name: string;
  /** main's commit the measured tree branched from, the last commit that changed fleet/src, and whether fleet/src had uncommitted changes. */
  mainCommit: string;
  fleetSrcCommit: string;
  fleetSrcDirty: boolean;
  measuredAt: string;
  machine: Machine;
  consumer: { reportsPerSec: number; cpuUsPerReport: number; rounds: number[]; cpuRounds: number[] };
  floorCpuUsPerReport: number;
  handRolled: { reportsPerSec: number; cpuUsPerReport: number };
  mosquittoSubPerSec: number;
}

export const baselineFile = (name: string) => path.join(RESULTS, `fleet-baseline-${name}.json`);

export function readBaseline(name: string): FleetBaseline | null {
  const f = baselineFile(name);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as FleetBaseline) : null;
}

export function writeBaseline(b: Omit<FleetBaseline, 'mainCommit' | 'fleetSrcCommit' | 'fleetSrcDirty'>): FleetBaseline {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO }).toString().trim();
  const full: FleetBaseline = { ...b, mainCommit: git('merge-base', 'HEAD', 'main').slice(0, 7), fleetSrcCommit: git('log', '-1', '--format=%h', '--', 'fleet/src'), fleetSrcDirty: git('status', '--porcelain', '--', 'fleet/src') !== '' };
  writeFileSync(baselineFile(b.name), JSON.stringify(full, null, 2) + '\n');
  return full;
}
