// The coverage-guided fuzzers over the native host's input paths (README.md, "Fuzzing"): each one replays the
// inputs of the bugs it found (fuzz/regressions/<fuzzer>/<bug>) and then fuzzes for a bounded time
// (VIGIL_FUZZ_SECONDS, default 20 s each). A crash, sanitizer report, leak or hang fails the test.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, NATIVE } from './helpers';

const FUZZ = path.join(NATIVE, 'fuzz');
const FUZZERS = ['fuzz_dbus', 'fuzz_dns', 'fuzz_config', 'fuzz_js', 'fuzz_net'];
const SECONDS = Number(process.env.VIGIL_FUZZ_SECONDS ?? 20);
const BUNDLE = path.join(NATIVE, 'out/fuzz/fuzz-parsers.js');

function regressions(fuzzer: string): string[] {
  try {
    return readdirSync(path.join(FUZZ, 'regressions', fuzzer)).sort();
  } catch {
    return [];
  }
}

// Setup, not a test: quick when CI's build step (host-native/fuzz/build.sh) ran before; a from-scratch build
// takes minutes, so the hook gets the native builds' bound, not vitest's default.
beforeAll(() => {
  execFileSync('bash', [path.join(FUZZ, 'build.sh')], { stdio: 'pipe', timeout: BUILD_TIMEOUT_MS });
}, BUILD_TIMEOUT_MS);

describe.each(FUZZERS)('%s', (fuzzer) => {
  const cases = regressions(fuzzer);
  if (cases.length) {
    it.each(cases)(`no longer crashes on the input of bug %s`, (name) => {
      const r = spawnSync(path.join(NATIVE, 'out/fuzz', fuzzer), [path.join(FUZZ, 'regressions', fuzzer, name)], {
        env: { ...process.env, VIGIL_FUZZ_BUNDLE: BUNDLE },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
    });
  }

  it(`runs coverage-guided for ${SECONDS} s without a crash`, () => {
    const r = spawnSync('bash', [path.join(FUZZ, 'run.sh'), '-t', String(SECONDS), fuzzer], { encoding: 'utf8', timeout: (SECONDS + 120) * 1000 });
    console.log(r.stdout.trim());
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
  }, (SECONDS + 180) * 1000);
});

// fuzz_net is only as good as its peer and its oracles: each seed must reach the outcome it was written for
// (VIGIL_FUZZ_NET_TRACE prints it), and a flow that misbehaves must abort the harness.
describe('fuzz_net harness', () => {
  const NET = path.join(NATIVE, 'out/fuzz/fuzz_net');
  const trace = (input: string, env: Record<string, string> = {}) =>
    spawnSync(NET, [input], { env: { ...process.env, VIGIL_FUZZ_NET_TRACE: '1', ...env }, encoding: 'utf8', timeout: 60_000 });

  const SEEDS: Array<[string, RegExp]> = [
    ['mqtt-connack-suback-puback', /flow 0, 68 of 68 bytes sent: ok$/m],
    ['mqtt5-connack-suback-puback', /flow 1, 26 of 26 bytes sent: ok$/m],
    ['mqtt-connack-refused', /ECONNACK .*not authorized \(CONNACK 5\)/],
    ['mqtt-one-chunk-reset', /ECLOSED .*ECONNRESET/],
    ['mqtt-stall-after-connack', /ECLOSED .*disconnected from .* by the agent/],
    ['mqtt5-disconnect-taken-over', /session taken over \(0x8e\)/],
    ['mqtt-connection-refused', /connect: ECONNREFUSED .*cannot connect to 127\.0\.0\.1/],
    ['http-connection-refused', /vapix: ECONNREFUSED .*cannot connect to 127\.0\.0\.1/],
    ['http-200-chunked-params', /flow 2, 165 of 165 bytes sent: ok$/m],
    ['http-200-length-apps', /flow 3, 166 of 166 bytes sent: ok$/m],
    ['http-200-json-info', /flow 4, 186 of 186 bytes sent: ok$/m],
    ['http-404-config', /flow 5, 32 of 32 bytes sent: ok$/m],
    ['http-200-eof-config', /flow 5, 91 of 91 bytes sent: ok$/m],
    ['http-401-reset', /EAUTH .*401 Unauthorized/],
    ['http-200-stall', /ETIMEDOUT .*no complete answer .* within 20 ms/],
    // a replayed OpenSSL server flight: mbedTLS parses the certificate and stops at the signature over our random
    ['tls-server-flight-openssl', /ETLS .*PKCS#1 verification failed/],
    ['tls-server-hello-one-chunk-reset', /ETLS .*TLS handshake failed/],
  ];
  it.each(SEEDS)('replays seed %s to the outcome it was written for', (name, outcome) => {
    const r = trace(path.join(FUZZ, 'corpus/fuzz_net', name));
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    expect(r.stderr).toMatch(outcome);
  });

  function withDriver(js: string, run: (bundle: string) => void): void {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-fuzz-net-'));
    try {
      writeFileSync(path.join(dir, 'driver.js'), js);
      run(path.join(dir, 'driver.js'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const seed = path.join(FUZZ, 'corpus/fuzz_net/mqtt-connack-suback-puback');

  it('aborts when a flow fails with something other than a VigilError', () => {
    withDriver(`globalThis.__vigilNetFuzz = () => Promise.reject(new TypeError('boom'));`, (bundle) => {
      const r = trace(seed, { VIGIL_FUZZ_NET_BUNDLE: bundle });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/TypeError: boom[\s\S]*the flow failed/);
    });
  });

  it('aborts when a flow never settles (a hang)', () => {
    withDriver(`globalThis.__vigilNetFuzz = () => new Promise(() => {});`, (bundle) => {
      const r = trace(seed, { VIGIL_FUZZ_NET_BUNDLE: bundle });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/the flow did not settle \(a hang\)/);
    });
  });

  it('aborts when a flow leaves a timer behind', () => {
    withDriver(`globalThis.__vigilNetFuzz = () => { __vigilHost.clock.setTimer(60000, () => {}); return Promise.resolve('ok'); };`, (bundle) => {
      const r = trace(seed, { VIGIL_FUZZ_NET_BUNDLE: bundle });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/a timer is left after the flow settled/);
    });
  });

  it('aborts on an unhandled promise rejection', () => {
    withDriver(`globalThis.__vigilNetFuzz = () => { Promise.reject(new Error('lost')); return Promise.resolve('ok'); };`, (bundle) => {
      const r = trace(seed, { VIGIL_FUZZ_NET_BUNDLE: bundle });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/lost[\s\S]*an unhandled promise rejection/);
    });
  });
});
