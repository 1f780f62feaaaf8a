/**
 * The rig of the CLI's broker e2e tests (fleet-start-errors, sim-broker-flags): test certificates and a temporary
 * folder for the file, and the Mosquitto and the `vigil` run of each test, stopped after it. Registers its own
 * vitest hooks; a test file's own afterEach (registered after this) runs before the rig's.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type TestPki } from './certs';
import { startMosquitto, type Mosquitto } from './mosquitto';
import { freePort } from './ports';
import type { VigilRun } from './vigil-cli';

export interface CliRig {
  /** Set in beforeAll. */
  pki: TestPki;
  /** A temporary folder of the file's tests. */
  dir: string;
  /** This test's broker, stopped after it. */
  mosquitto: Mosquitto | null;
  /** This test's `vigil` process, stopped after it. */
  run: VigilRun | null;
  /** Starts this test's Mosquitto with a TLS listener on its own port (the returned one), besides its plain one. */
  tlsBroker(options?: { cert?: string; key?: string; extra?: string[] }): Promise<number>;
}

export function cliRig(tag: string): CliRig {
  const rig: CliRig = {
    pki: undefined as unknown as TestPki,
    dir: '',
    mosquitto: null,
    run: null,
    async tlsBroker({ cert = rig.pki.serverCert, key = rig.pki.serverKey, extra = [] } = {}) {
      const tlsPort = await freePort();
      rig.mosquitto = await startMosquitto({
        extraLines: [`listener ${tlsPort} 127.0.0.1`, 'allow_anonymous true', `cafile ${rig.pki.caCert}`, `certfile ${cert}`, `keyfile ${key}`, ...extra],
      });
      return tlsPort;
    },
  };
  beforeAll(() => {
    rig.pki = makePki();
    rig.dir = mkdtempSync(join(tmpdir(), `vigil-${tag}-`));
  });
  afterAll(() => {
    rmSync(rig.pki.dir, { recursive: true, force: true });
    rmSync(rig.dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await rig.run?.stop();
    rig.run = null;
    await rig.mosquitto?.stop();
    rig.mosquitto = null;
  });
  return rig;
}
