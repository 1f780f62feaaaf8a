/**
 * The settings' three layers (param.conf < the camera's param.cgi group < --config) and what happens to a bad
 * value, on plain objects: no broker, no clock.
 */
import { describe, expect, it } from 'vitest';
import { createSettings, layerSettings, readCameraSettings } from './settings';
import { parseParamList } from './vapix/vapix';
import { VigilError } from './util/errors';

type Line = [string, string];

function setup(defaults: Record<string, string>, overrides?: Record<string, string>) {
  const lines: Line[] = [];
  const host = {
    config: () => ({ ...defaults, ...overrides }),
    configOverrides: overrides ? () => ({ ...overrides }) : undefined,
  };
  const settings = createSettings(host, (level, message) => lines.push([level, `[vigil] [config] ${message}`]));
  return { settings, lines, warnings: () => lines.filter((l) => l[0] === 'warn').map((l) => l[1]) };
}

const DEFAULTS = { BrokerHost: 'broker.lan', IntervalSec: '300', DataDir: '/data' };
/** A camera's answer to param.cgi?action=list&group=root.vigil, as text, for the reader. */
const answer = (text: string) => ({ listParams: async () => parseParamList(text) });

describe('the settings layers', () => {
  it('takes a value from the camera over the param.conf default', () => {
    const { settings } = setup(DEFAULTS);
    expect(settings.first({ IntervalSec: '60' }).reportEverySec).toBe(60);
  });

  it('takes a --config value over the camera', () => {
    expect(layerSettings({ config: () => ({ IntervalSec: '10' }), configOverrides: () => ({ IntervalSec: '10' }) }, { IntervalSec: '60' }).IntervalSec).toBe('10');
    const { settings } = setup(DEFAULTS, { IntervalSec: '10' });
    expect(settings.first({ IntervalSec: '60' }).reportEverySec).toBe(10);
  });

  it('treats all of config() as defaults on a host without configOverrides', () => {
    expect(layerSettings({ config: () => ({ IntervalSec: '10' }) }, { IntervalSec: '60' }).IntervalSec).toBe('60');
  });

  it('keeps a --config value when the camera changes that parameter later', () => {
    const { settings } = setup(DEFAULTS, { IntervalSec: '10' });
    const config = settings.first({ IntervalSec: '60' });
    expect(settings.update({ IntervalSec: '90' })).toEqual([]);
    expect(config.reportEverySec).toBe(10);
  });

  it('fails the first start as parseConfig does when a required value is missing in every layer', () => {
    const { settings } = setup({ ...DEFAULTS, BrokerHost: '' });
    expect(() => settings.first({ BrokerHost: '' })).toThrow(/BrokerHost is required/);
  });
});

describe('a change on the camera', () => {
  it('changes the config in place, so parts held elsewhere (the outbox bounds) see the new value', () => {
    const { settings } = setup(DEFAULTS);
    const config = settings.first({});
    const outbox = config.outboxConf;
    expect(settings.update({ OutboxMaxReports: '50' })).toEqual(['OutboxMaxReports']);
    expect(outbox.maxReports).toBe(50);
  });

  it('returns no change and logs nothing when the camera says what is in force', () => {
    const { settings, lines } = setup(DEFAULTS);
    settings.first({ IntervalSec: '60' });
    expect(settings.update({ IntervalSec: '60' })).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('logs what changed with the new values', () => {
    const { settings, lines } = setup(DEFAULTS);
    settings.first({});
    settings.update({ IntervalSec: '60', BrokerPort: '8883' });
    expect(lines).toEqual([['info', '[vigil] [config] settings changed: IntervalSec="60", BrokerPort="8883"']]);
  });

  it('names a changed password without its value', () => {
    const { settings, lines } = setup(DEFAULTS);
    settings.first({ BrokerPassword: 'old-secret' });
    settings.update({ BrokerPassword: 'new-secret' });
    expect(lines).toEqual([['info', '[vigil] [config] settings changed: BrokerPassword']]);
    expect(JSON.stringify(lines)).not.toMatch(/secret/);
  });

  it('keeps the DataDir of the start (the outboxes live there) while logging the new one', () => {
    const { settings, lines } = setup(DEFAULTS);
    const config = settings.first({});
    expect(settings.update({ DataDir: '/elsewhere' })).toEqual(['DataDir']);
    expect(config.dataDir).toBe('/data');
    expect(lines[0][1]).toContain('DataDir="/elsewhere"');
  });
});

describe('a bad value on the camera', () => {
  it('keeps the previous good value of IntervalSec=abc and says so, naming the parameter', () => {
    const { settings, warnings } = setup(DEFAULTS);
    const config = settings.first({ IntervalSec: '60' });
    expect(settings.update({ IntervalSec: 'abc' })).toEqual([]);
    expect(config.reportEverySec).toBe(60);
    expect(warnings()).toEqual(['[vigil] [config] IntervalSec must be an integer from 1 to 3600, got "abc"; keeping IntervalSec="60"']);
  });

  it('keeps the previous good port for BrokerPort=70000 and still applies the good values next to it', () => {
    const { settings, warnings } = setup(DEFAULTS);
    const config = settings.first({ BrokerPort: '1883' });
    expect(settings.update({ BrokerPort: '70000', IntervalSec: '30' })).toEqual(['IntervalSec']);
    expect(config.brokerConf.port).toBe(1883);
    expect(config.reportEverySec).toBe(30);
    expect(warnings()).toEqual(['[vigil] [config] BrokerPort must be an integer from 1 to 65535, got "70000"; keeping BrokerPort="1883"']);
  });

  it('logs a bad value once while it stays on the camera, and again when it becomes another bad value', () => {
    const { settings, warnings } = setup(DEFAULTS);
    settings.first({});
    for (let i = 0; i < 5; i++) settings.update({ IntervalSec: 'abc' });
    expect(warnings()).toHaveLength(1);
    settings.update({ IntervalSec: '-5' });
    expect(warnings()).toHaveLength(2);
  });

  it('logs the same bad value again after a good value came in between', () => {
    const { settings, warnings } = setup(DEFAULTS);
    settings.first({});
    settings.update({ IntervalSec: 'abc' });
    settings.update({ IntervalSec: '20' });
    settings.update({ IntervalSec: 'abc' });
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toContain('keeping IntervalSec="20"');
  });

  it('falls back to the default for a parameter that was never set and is now bad', () => {
    const { settings } = setup(DEFAULTS);
    const config = settings.first({});
    settings.update({ MqttVersion: '4.0' });
    expect(config.brokerConf.protocolLevel).toBe(4);
  });
});

describe("reading the camera's group", () => {
  it('reads root.vigil.<Param> lines and drops the prefix', async () => {
    const text = 'root.vigil.BrokerHost=mqtt.lan\nroot.vigil.IntervalSec=60\nroot.vigil.BrokerPassword=\n';
    expect(await readCameraSettings(answer(text))).toEqual({ BrokerHost: 'mqtt.lan', IntervalSec: '60', BrokerPassword: '' });
  });

  it("is null for a camera's answer to a missing group", async () => {
    expect(await readCameraSettings(answer("# Error: Error -1 getting param in group 'vigil'\n"))).toBeNull();
  });

  it('logs one line for a camera without the group, however often it is read, and one when it comes back', async () => {
    const { settings, lines } = setup(DEFAULTS);
    const missing = answer("# Error: Error -1 getting param in group 'vigil'\n");
    for (let i = 0; i < 3; i++) expect(await settings.read(missing)).toBeNull();
    expect(await settings.read(answer('root.vigil.IntervalSec=60\n'))).toEqual({ IntervalSec: '60' });
    expect(lines).toEqual([
      ['warn', "[vigil] [config] cannot read the camera's settings (param.cgi has no group root.vigil); keeping the ones in use"],
      ['info', "[vigil] [config] the camera's settings are readable again"],
    ]);
  });

  it('logs one line for a read that fails (a VAPIX error), naming it', async () => {
    const { settings, warnings } = setup(DEFAULTS);
    const failing = { listParams: async () => Promise.reject(new Error('GET /axis-cgi/param.cgi: HTTP 500 Internal Server Error')) };
    await settings.read(failing);
    await settings.read(failing);
    expect(warnings()).toEqual(["[vigil] [config] cannot read the camera's settings (GET /axis-cgi/param.cgi: HTTP 500 Internal Server Error); keeping the ones in use"]);
  });
});

describe('a VAPIX error while reading', () => {
  it("says the reason once, without the VAPIX client's own prefix", async () => {
    const { settings, warnings } = setup(DEFAULTS);
    const failing = { listParams: async () => Promise.reject(new VigilError('vapix', 'ETIMEDOUT', 'GET /axis-cgi/param.cgi: no complete answer')) };
    await settings.read(failing);
    expect(warnings()).toEqual(["[vigil] [config] cannot read the camera's settings (GET /axis-cgi/param.cgi: no complete answer); keeping the ones in use"]);
  });
});

describe('a bad value on the camera at the first start', () => {
  it("starts with param.conf's value instead, saying so once", () => {
    const { settings, warnings } = setup(DEFAULTS);
    expect(settings.first({ IntervalSec: 'abc' }).reportEverySec).toBe(300);
    expect(warnings()).toEqual(['[vigil] [config] IntervalSec must be an integer from 1 to 3600, got "abc"; keeping IntervalSec="300"']);
  });

  it('fails with the clear error, and no warning, when the value is bad in param.conf too', () => {
    const { settings, warnings } = setup({ ...DEFAULTS, IntervalSec: 'often' });
    expect(() => settings.first({ IntervalSec: 'often' })).toThrow(/IntervalSec must be an integer from 1 to 3600, got "often"/);
    expect(warnings()).toEqual([]);
  });
});
