import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeHost } from '../../../test/fake-host';
import { loadTestdata, makeContext, serveVapix } from '../../../test/vapix-fixture';
import { collectDevice } from './device';

function collect(testCase: string, params: Record<string, string> = {}) {
  const fake = new FakeHost();
  const requests = serveVapix(fake, loadTestdata(fake, fs, `${import.meta.dirname}/testdata/${testCase}`));
  return { result: collectDevice(makeContext(fake, params)), requests };
}

describe('collectDevice', () => {
  it('reports identity, OS version, firmware state and uptime from a healthy camera', async () => {
    const { value, errors } = await collect('valid').result;
    expect(errors).toEqual([]);
    expect(value.device).toEqual({
      serial: 'ACCC8EF3A1C2',
      model: 'Q3536-LVE',
      fullName: 'AXIS Q3536-LVE Dome Camera',
      brand: 'AXIS',
      productType: 'Dome Camera',
      hardwareId: '9A6.1',
      soc: 'Axis Artpec-8',
      architecture: 'aarch64',
      uptimeSec: 350735,
    });
    expect(value.os).toEqual({
      version: '12.11.77',
      buildDate: 'Jul 14 2026 09:12',
      firmware: {
        activeVersion: '12.11.77',
        inactiveVersion: '12.10.36',
        committed: true,
        pendingRollback: false,
        timeToRollbackSec: null,
        lastUpgradeAt: '2026-08-02T09:41:17+02:00',
      },
    });
  });

  it('does not ask param.cgi when basicdeviceinfo answers', async () => {
    const { result, requests } = collect('valid');
    await result;
    expect(requests.map((r) => r.path).sort()).toEqual(['/axis-cgi/basicdeviceinfo.cgi', '/axis-cgi/firmwaremanagement.cgi']);
  });

  it('reports an upgrade waiting for commit as a pending rollback', async () => {
    const { value, errors } = await collect('rollback').result;
    expect(errors).toEqual([]);
    expect(value.os.firmware).toEqual({
      activeVersion: '12.11.77',
      inactiveVersion: null,
      committed: false,
      pendingRollback: true,
      timeToRollbackSec: 540,
      lastUpgradeAt: '2026-11-25T11:58:02+01:00',
    });
    expect(value.device.uptimeSec).toBe(121);
  });

  it('falls back to the Properties and Brand parameters when basicdeviceinfo is missing', async () => {
    const { value } = await collect('missing').result;
    expect(value.device).toMatchObject({
      serial: 'B8A44F0D3E21',
      model: 'P3265-V',
      fullName: 'AXIS P3265-V Dome Camera',
      brand: 'AXIS',
      productType: 'Dome Camera',
      hardwareId: '966.1',
      soc: 'Axis Artpec-8',
      architecture: 'aarch64',
    });
    expect(value.os.version).toBe('12.11.77');
    expect(value.os.buildDate).toBe('Jul 14 2026 09:12');
  });

  it('reports each missing source as an error and leaves its fields null', async () => {
    const { value, errors } = await collect('missing').result;
    expect(value.os.firmware).toBeNull();
    expect(value.device.uptimeSec).toBeNull();
    expect(errors.map((e) => [e.collector, e.code])).toEqual([
      ['device', 'EHTTP'],
      ['device', 'EHTTP'],
      ['device', 'ENOENT'],
    ]);
    expect(errors[2].message).toBe('[vigil] [device] uptime: ENOENT: /proc/uptime');
  });

  it('reads uptime next to the configured socket tables', async () => {
    const fake = new FakeHost();
    serveVapix(fake, {});
    fake.addFile('/sim/proc/uptime', '42.00 80.00\n');
    const { value } = await collectDevice(makeContext(fake, { ProcNetDir: '/sim/proc/net' }));
    expect(value.device.uptimeSec).toBe(42);
  });

  it('survives malformed answers with unknowns and one error per source', async () => {
    const { value, errors } = await collect('malformed').result;
    expect(value.device.serial).toBe('');
    expect(value.os).toEqual({ version: 'unknown', buildDate: null, firmware: null });
    expect(value.device.uptimeSec).toBeNull();
    expect(errors.map((e) => e.message)).toEqual([
      '[vigil] [vapix] basicdeviceinfo.cgi getAllProperties: answer is not JSON',
      '[vigil] [vapix] firmwaremanagement.cgi status: device error 500 Internal error',
      '[vigil] [device] /proc/uptime: expected two numbers, got "uptime: about a week\\n"',
      expect.stringMatching(/^\[vigil\] \[vapix\] param\.cgi: line 1 is not name=value/),
    ]);
  });

  /** The valid camera with firmwaremanagement.cgi answering testdata/<file>. */
  const firmware = async (file: string) => {
    const fake = new FakeHost();
    const answers = loadTestdata(fake, fs, `${import.meta.dirname}/testdata/valid`);
    answers['/axis-cgi/firmwaremanagement.cgi'] = fs.readFileSync(`${import.meta.dirname}/testdata/${file}`, 'utf8');
    serveVapix(fake, answers);
    return collectDevice(makeContext(fake));
  };

  it('reads a firmware status that spells isCommitted and sends activeFirmwarePart as a number', async () => {
    const { value, errors } = await firmware('valid/firmware-status-committed-spelling.json');
    expect(errors).toEqual([]);
    expect(value.os.firmware).toEqual({ activeVersion: '11.11.140', inactiveVersion: '11.11.120', committed: true, pendingRollback: false, timeToRollbackSec: null, lastUpgradeAt: '2026-04-02T07:15:40+02:00' });
  });

  it('reads a firmware status with no inactive firmware: commit state unknown, no rollback pending', async () => {
    const { value, errors } = await firmware('missing/firmware-status-no-inactive.json');
    expect(errors).toEqual([]);
    expect(value.os.firmware).toEqual({ activeVersion: '10.12.228', inactiveVersion: null, committed: null, pendingRollback: false, timeToRollbackSec: null, lastUpgradeAt: null });
  });

  it('reads pendingCommit as a boolean and timeToRollback as digits in a string', async () => {
    const { value } = await firmware('rollback/firmware-status-seconds-as-text.json');
    expect(value.os.firmware).toMatchObject({ committed: false, pendingRollback: true, timeToRollbackSec: 300 });
  });

  it('reports a firmware status of the wrong types as an error, keeping the rest of the device', async () => {
    const { value, errors } = await firmware('malformed/firmware-status-wrong-types.json');
    expect(value.os.firmware).toBeNull();
    expect(value.device.serial).toBe('ACCC8EF3A1C2');
    expect(errors.map((e) => e.message)).toEqual(['[vigil] [vapix] firmwaremanagement.cgi status: "isCommited" should be a boolean, got "no"']);
  });

  it('takes the version from the firmware status when no other source has it', async () => {
    const fake = new FakeHost();
    serveVapix(fake, { '/axis-cgi/firmwaremanagement.cgi': JSON.stringify({ data: { activeFirmwareVersion: '11.11.140' } }) });
    const { value } = await collectDevice(makeContext(fake));
    expect(value.os.version).toBe('11.11.140');
  });

  it('reports a refused VAPIX connection without throwing', async () => {
    const fake = new FakeHost();
    const { value, errors } = await collectDevice(makeContext(fake));
    expect(value.device.serial).toBe('');
    expect(errors.filter((e) => e.code === 'ECONNREFUSED')).toHaveLength(3);
  });
});
