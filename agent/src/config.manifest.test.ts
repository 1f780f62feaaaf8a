/**
 * manifest.json's paramConfig (what the camera's settings page offers and param.conf holds) against the agent's
 * own parser: the same parameters, the same defaults, the same bounds. Adding an option to one and not the
 * other fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, checkConfig } from './config';
// @ts-expect-error: a plain .mjs script without types
import { paramConf } from '../../host-native/package.mjs';

interface Param {
  name: string;
  default: string;
  type: string;
}
const manifest = JSON.parse(readFileSync(join(__dirname, '../../manifest.json'), 'utf8'));
const params: Param[] = manifest.acapPackageConf.configuration.paramConfig;
/** The type without the `hidden:` / `nosync:` / `readonly:` prefixes (reference axis-os.md §1.4). */
const baseType = (t: string) => t.replace(/^((hidden|nosync|readonly):)+/, '');
const problemsWith = (name: string, value: string) => checkConfig({ BrokerHost: 'broker', [name]: value }).problems;

describe("manifest.json's paramConfig and parseConfig", () => {
  it('declares every parameter parseConfig reads, and no other', () => {
    const read = new Set<string>();
    const spy = new Proxy({} as Record<string, string>, {
      get: (_t, key) => {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    });
    checkConfig(spy);
    expect(params.map((p) => p.name).sort()).toEqual([...read].sort());
  });

  it('declares each parameter once', () => {
    expect(new Set(params.map((p) => p.name)).size).toBe(params.length);
  });

  it("gives each parameter the agent's own default (an empty string where the agent has none)", () => {
    for (const p of params) expect(p.default, p.name).toBe(CONFIG_DEFAULTS[p.name] ?? '');
    for (const name of Object.keys(CONFIG_DEFAULTS)) expect(params.some((p) => p.name === name), name).toBe(true);
  });

  it('has defaults that parse without a problem once a broker is set', () => {
    const raw = Object.fromEntries(params.map((p) => [p.name, p.default]));
    expect(checkConfig({ ...raw, BrokerHost: 'broker' }).problems).toEqual({});
  });

  it("bounds every int parameter exactly as parseConfig does (min and max accepted, one past either refused)", () => {
    const ints = params.filter((p) => baseType(p.type).startsWith('int'));
    expect(ints.length).toBeGreaterThan(10);
    for (const p of ints) {
      const min = Number(/min=(\d+)/.exec(p.type)?.[1]);
      const max = Number(/max=(\d+)/.exec(p.type)?.[1]);
      expect(Number.isInteger(min) && Number.isInteger(max), `${p.name} ${p.type} declares min and max`).toBe(true);
      expect(problemsWith(p.name, String(min))[p.name], `${p.name}=${min}`).toBeUndefined();
      expect(problemsWith(p.name, String(max))[p.name], `${p.name}=${max}`).toBeUndefined();
      if (min > 0) expect(problemsWith(p.name, String(min - 1))[p.name], `${p.name}=${min - 1}`).toBeDefined();
      expect(problemsWith(p.name, String(max + 1))[p.name], `${p.name}=${max + 1}`).toBeDefined();
    }
  });

  it('offers in every bool and enum only values parseConfig accepts', () => {
    const choices = params.filter((p) => /^(bool|enum):/.test(baseType(p.type)));
    expect(choices.map((p) => p.name)).toEqual(expect.arrayContaining(['BrokerTls', 'BrokerTlsVerify', 'MqttVersion']));
    for (const p of choices) {
      const options = baseType(p.type).replace(/^\w+:/, '').split(',').map((o) => o.split('|')[0]);
      expect(options, p.name).toContain(p.default);
      for (const o of options) expect(problemsWith(p.name, o)[p.name], `${p.name}=${o}`).toBeUndefined();
    }
  });

  it('masks the passwords and hides the parameters only a lab or a test changes', () => {
    const typeOf = (name: string) => params.find((p) => p.name === name)?.type ?? '';
    for (const name of ['BrokerPassword', 'VapixPassword']) expect(typeOf(name), name).toMatch(/^password:/);
    for (const name of ['VapixHost', 'VapixPort', 'VapixTimeoutMs', 'DataDir', 'ProcNetDir']) expect(typeOf(name), name).toMatch(/^hidden:/);
  });

  it("writes param.conf as one Name=\"default\" type=\"type\" line per parameter, as the native host reads it back", () => {
    const text: string = paramConf(manifest);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(params.length);
    for (const [i, p] of params.entries()) {
      // the native host takes the value up to the next quote (host_config.c): no quote may hide in one
      expect(p.default + p.type, p.name).not.toContain('"');
      expect(lines[i]).toBe(`${p.name}="${p.default}" type="${p.type}"`);
    }
  });
});
