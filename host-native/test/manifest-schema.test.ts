// manifest.json against schemas/manifest.schema.json (written from Axis's field reference, 1.7.x and 2.x).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_DEFAULTS } from '../../agent/src/config';
import { schemaValidator } from '../../schemas/validator';
import { REPO } from './helpers';

const manifest = JSON.parse(readFileSync(path.join(REPO, 'manifest.json'), 'utf8'));
// strict: false, as before: ajv's strict types reject the schema's `pattern` without a `type` in an if-branch.
const validate = schemaValidator('manifest.schema.json', { allErrors: true, strict: false });

type M = typeof manifest;
// Manifests in the shapes of Axis's own examples, written for these tests (testdata/manifests/{valid,invalid}).
const SHAPES = path.join(__dirname, 'testdata/manifests');
const shapes = (kind: 'valid' | 'invalid') => readdirSync(path.join(SHAPES, kind)).map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(SHAPES, kind, f), 'utf8'))]);
function withSetup(change: (setup: Record<string, unknown>) => void, base: M = manifest): M {
  const m = JSON.parse(JSON.stringify(base));
  change(m.acapPackageConf.setup);
  return m;
}

describe('the ACAP manifest schema', () => {
  it('accepts the real manifest.json', () => {
    expect(validate(manifest), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(shapes('valid'))('accepts a manifest of Axis\'s example shape: %s', (_name, m) => {
    expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(shapes('invalid'))('rejects a manifest outside Axis\'s published rules: %s', (_name, m) => {
    expect(validate(m)).toBe(false);
  });

  it('names the allow-list when it rejects a D-Bus method, so the error says why', () => {
    const m = withSetup(() => {});
    m.resources.dbus.requiredMethods = ['com.axis.Storage1.Format'];
    expect(validate(m)).toBe(false);
    expect(JSON.stringify(validate.errors)).toMatch(/allowedDbusMethod/);
  });

  it.each([
    ['a hyphen', 'vigil-agent'],
    ['a leading digit', '1vigil'],
    ['one character', 'v'],
    ['27 characters', 'a'.repeat(27)],
    ['a space', 'vigil agent'],
  ])('rejects an appName with %s', (_what, name) => {
    expect(validate(withSetup((s) => (s.appName = name)))).toBe(false);
  });

  it('accepts an appName of 26 characters', () => {
    expect(validate(withSetup((s) => (s.appName = 'a'.repeat(26))))).toBe(true);
  });

  it.each(['1.0', 'v1.0.0', '01.0.0', '1.0.0.0', '1.0.0-'])('rejects the version %s', (version) => {
    expect(validate(withSetup((s) => (s.version = version)))).toBe(false);
  });

  it.each(['1.0.0', '0.1.0-rc.1', '2.3.4+build.7'])('accepts the semantic version %s', (version) => {
    expect(validate(withSetup((s) => (s.version = version)))).toBe(true);
  });

  it('requires a 10-digit hex vendorId and compatibleOsVersions in schema 2.x', () => {
    expect(validate(withSetup((s) => delete s.vendorId))).toBe(false);
    expect(validate(withSetup((s) => (s.vendorId = '012345678')))).toBe(false);
    expect(validate(withSetup((s) => (s.vendorId = '01234567zz')))).toBe(false);
    expect(validate(withSetup((s) => delete s.compatibleOsVersions))).toBe(false);
    expect(validate(withSetup((s) => (s.embeddedSdkVersion = '3.0')))).toBe(false);
  });

  it('accepts a 1.7.3 manifest and rejects 2.x-only fields there', () => {
    const v1 = withSetup((s) => {
      delete s.vendorId;
      delete s.compatibleOsVersions;
      s.embeddedSdkVersion = '3.0';
    });
    v1.schemaVersion = '1.7.3';
    expect(validate(v1), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(withSetup((s) => (s.vendorId = '0123456789'), v1))).toBe(false);
  });

  it('rejects unknown fields, a bad runMode and a static user other than sdk in 2.x', () => {
    expect(validate(withSetup((s) => (s.colour = 'blue')))).toBe(false);
    expect(validate(withSetup((s) => (s.runMode = 'always')))).toBe(false);
    const staticUser = withSetup((s) => (s.user = { username: 'root', group: 'sdk' }));
    delete staticUser.resources;
    expect(validate(staticUser)).toBe(false);
  });

  it('declares the broker password as a password parameter and runs as a dynamic user with respawn', () => {
    const params = manifest.acapPackageConf.configuration.paramConfig as Array<{ name: string; default: string; type: string }>;
    expect(params.find((p) => p.name === 'BrokerPassword')?.type).toMatch(/^password/);
    expect(manifest.acapPackageConf.setup.user).toBeUndefined();
    expect(manifest.acapPackageConf.setup.runMode).toBe('respawn');
    expect(manifest.resources.dbus.requiredMethods).toContain('com.axis.HTTPConf1.VAPIXServiceAccounts1.GetCredentials');
  });

  it('gives each parameter the agent\'s own default', () => {
    const params = manifest.acapPackageConf.configuration.paramConfig as Array<{ name: string; default: string }>;
    for (const p of params) if (p.name in CONFIG_DEFAULTS) expect(p.default, p.name).toBe(CONFIG_DEFAULTS[p.name]);
  });
});
