import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const VIGIL = resolve(__dirname, '../bin/vigil.mjs');

function vigil(args: string[]) {
  const r = spawnSync(process.execPath, [VIGIL, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('vigil command line', () => {
  it('prints usage with --help and exits 0', () => {
    const r = vigil(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('vigil demo');
    expect(r.out).toContain('vigil sim');
  });

  it('prints help for each command', () => {
    for (const command of ['demo', 'sim', 'profiles']) {
      const r = vigil([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.out, command).toContain(`vigil ${command}`);
    }
  });

  it('rejects an unknown command with a clear error and exit code 2', () => {
    const r = vigil(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('[vigil] [cli] unknown command "frobnicate"');
  });

  it('lists every bundled profile with its serial and AXIS OS version', () => {
    const r = vigil(['profiles']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/lts2020-eol\s+ACCC8E5E61F4\s+P1445-LE\s+AXIS OS 9\.80\.3\.12/);
    expect(r.out.trim().split('\n').length).toBeGreaterThanOrEqual(9);
  });

  it('requires --broker for sim', () => {
    const r = vigil(['sim', '--profile', 'hardened']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--broker is required');
  });

  it('rejects a malformed broker URL', () => {
    const r = vigil(['sim', '--profile', 'hardened', '--broker', 'http://x']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--broker must look like mqtt://host:port');
  });

  it('names the profile file and problem for an unknown profile', () => {
    const r = vigil(['sim', '--profile', 'no-such-profile', '--broker', 'mqtt://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no-such-profile');
  });

  it('says clearly that the demo port is taken', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await new Promise<{ code: number | null; err: string }>((resolveRun) => {
        // spawnSync would block the event loop that serves the port; run it asynchronously.
        import('node:child_process').then(({ spawn }) => {
          const child = spawn(process.execPath, [VIGIL, 'demo', '--port', String(port), '--no-table']);
          let err = '';
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => resolveRun({ code, err }));
        });
      });
      expect(r.code).toBe(2);
      expect(r.err).toContain(`127.0.0.1:${port} is already in use; choose another port with --port`);
    } finally {
      server.close();
    }
  });
});
