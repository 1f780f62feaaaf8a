/**
 * Property tests for file and parameter fault specs (ROBUSTNESS.md): whatever PATH a `file-add` names, it
 * is refused with a `[vigil] [faults]` error or writes inside the camera's private rootfs only; whatever
 * value a `param` sets, param.cgi still answers one line per parameter.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { preparePrivateRootfs } from '../src/device-changes';
import { parseFaultSpec, startFaultScript } from '../src/faults';
import { loadProfile } from '../src/profiles';
import { VapixServer, paramList } from '../src/vapix-server';
import type { SimCamera } from '../src/camera';
import { check, seeds } from '../../test/helpers/fc-seed';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'vigil-faults-robust-'));
});
afterAll(() => {
  vi.useRealTimers();
  rmSync(root, { recursive: true, force: true });
});

/** Every path under dir (relative), folders included. */
function tree(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(rel, e.name);
    return e.isDirectory() ? [p + '/', ...tree(dir, p)] : [p];
  });
}

const segment = fc.constantFrom('..', '.', '', 'etc', 'usr', 'x..y', '...', '..\\', '%2e%2e', 'a b', '\u0000', '\n', 'é');
const pathText = fc.tuple(fc.boolean(), fc.array(segment, { maxLength: 6 })).map(([abs, parts]) => (abs ? '/' : '') + parts.join('/'));

describe('file fault paths', () => {
  it.each(seeds(931))('a file-add PATH is refused as [vigil] [faults] or writes inside the private rootfs only (%s)', (_l, seed) => {
    const profile = loadProfile('lts2024');
    const base = path.join(root, `seed-${seed}`);
    const stateDir = path.join(base, 'state');
    mkdirSync(stateDir, { recursive: true });
    const rootfs = preparePrivateRootfs(profile, stateDir);
    const outside = tree(base).filter((p) => !p.startsWith(path.relative(base, rootfs)));
    const cam = { profile, stateDir, host: { device: { rootfsDir: rootfs } }, vapix: null } as unknown as SimCamera;
    vi.useFakeTimers();
    try {
      check(
        fc.property(pathText, (p) => {
          let script;
          try {
            script = startFaultScript([parseFaultSpec(`file-add:${p}@0`)], { camera: () => cam, restart: async () => {}, log: () => {} });
          } catch (err) {
            expect((err as Error).message).toMatch(/^\[vigil\] \[faults\] /);
            return;
          }
          vi.advanceTimersByTime(1);
          expect(tree(base).filter((x) => !x.startsWith(path.relative(base, rootfs)))).toEqual(outside);
          script.stop();
        }),
        seed,
        300,
      );
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('param fault values', () => {
  it.each(seeds(932))('a param value is refused as [vigil] [faults] or param.cgi answers it on one line (%s)', (_l, seed) => {
    const profile = loadProfile('lts2024').data;
    check(
      fc.property(fc.string({ maxLength: 40, unit: fc.constantFrom('a', '=', '@', ' ', '\n', '\r', '\u0000', 'é', '#', '+') }), (value) => {
        let step;
        try {
          step = parseFaultSpec(`param:Network.SSH.Enabled=${value}@1`);
        } catch (err) {
          expect((err as Error).message).toMatch(/^\[vigil\] \[faults\] /);
          return;
        }
        const vapix = new VapixServer({ profile });
        vapix.setParam(step.param as string, step.to as string);
        expect(paramList(profile, 'Network.SSH', vapix.paramOverrides())).toBe(`root.Network.SSH.Enabled=${step.to}\n`);
      }),
      seed,
      300,
    );
  });
});
