/**
 * `vigil demo`'s live drama is data: the tampered and exposed profiles' faults.script, run by startDemo for
 * their cameras, each on a private rootfs copy made before the camera started.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDemo } from '../cli/demo';
import { faultScript, loadProfile } from '../host-sim/src/profiles';
import { buildAgent } from '../build.mjs';

const BUNDLE = resolve(__dirname, '../dist/agent.js');

describe('the demo fault scripts', () => {
  it('script a file change on the tampered camera and a new listener on the exposed one', () => {
    expect(faultScript(loadProfile('tampered').data)).toEqual([{ kind: 'file-change', at: 45, for: 120, path: '/usr/bin/curl' }]);
    expect(faultScript(loadProfile('exposed').data)).toEqual([{ kind: 'listen', at: 60, for: 120, port: 4444, proto: 'tcp' }]);
  });

  it('run for the cameras whose profiles have them, each camera reading its private rootfs copy from the start', async () => {
    if (!existsSync(BUNDLE)) await buildAgent();
    const demo = await startDemo({
      bundlePath: BUNDLE,
      broker: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      intervalSec: 60,
      profiles: ['tampered', 'exposed', 'hardened'],
    });
    try {
      expect(demo.scripts).toHaveLength(2);
      for (const cam of demo.cameras) {
        if (cam.profile.name === 'hardened') expect(cam.host.device.rootfsDir).toBe(cam.profile.rootfsDir);
        else expect(cam.host.device.rootfsDir).toBe(join(`${cam.stateDir}.device`, 'rootfs'));
      }
    } finally {
      await demo.stop();
    }
  }, 60_000);
});
