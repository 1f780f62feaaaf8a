/**
 * Device collector: identity and AXIS OS version from basicdeviceinfo.cgi (falling back to the
 * Properties/Brand parameters), firmware state from firmwaremanagement.cgi, uptime from <proc>/uptime.
 */
import type { DeviceInfo, FirmwareState, OsInfo } from '../../report/types';
import { readText } from '../../util/text';
import { quote, VigilError } from '../../util/errors';
import type { DeviceProperties, FirmwareStatus } from '../../vapix/vapix';
import { type CollectorContext, type CollectorResult, parentDir, runCollector } from '../context';

export interface DeviceValue {
  device: DeviceInfo;
  os: OsInfo;
}

/** Stands in for a version no source could tell. An unknown serial is '' (falsy: the caller must not publish under it). */
export const UNKNOWN = 'unknown';

/**
 * Where the basicdeviceinfo properties live in param.cgi, for devices whose basicdeviceinfo fails: group →
 * properties, each the parameter `<group>.<property>` (e.g. Properties.System.SerialNumber).
 */
export const PROPERTY_GROUPS: Record<string, Array<keyof DeviceProperties>> = {
  'Properties.System': ['SerialNumber', 'Architecture', 'Soc', 'HardwareID'],
  'Properties.Firmware': ['Version', 'BuildDate'],
  Brand: ['ProdNbr', 'ProdFullName', 'Brand', 'ProdType'],
};

/** Nothing known (serial ''): the collector's fallback, and the agent's. */
export const noDevice = (): DeviceValue => toValue({}, undefined, null);

export const collectDevice = (ctx: CollectorContext): Promise<CollectorResult<DeviceValue>> => {
  return runCollector('device', noDevice, async (guard) => {
    const [info, firmware, uptime] = await Promise.all([
      guard('basicdeviceinfo.cgi', ctx.vapixApi.basicDeviceInfo()),
      guard('firmwaremanagement.cgi', ctx.vapixApi.firmwareStatus()),
      guard('uptime', readUptime(ctx)),
    ]);
    let props: DeviceProperties = info ?? {};
    if (!info) {
      const groups = Object.keys(PROPERTY_GROUPS);
      const list = await guard('param.cgi', ctx.vapixApi.listParams(groups));
      props = {};
      for (const group of groups) {
        for (const prop of PROPERTY_GROUPS[group]) {
          const v = list?.params.get(`${group}.${prop}`);
          if (v) props[prop] = v;
        }
      }
    }
    return toValue(props, firmware, uptime ?? null);
  });
};

const toValue = (p: DeviceProperties, fw: FirmwareStatus | undefined, uptimeSec: number | null): DeviceValue => {
  const s = (v: string | undefined) => (v ? v : null);
  return {
    device: {
      serial: p.SerialNumber || '',
      model: s(p.ProdNbr),
      fullName: s(p.ProdFullName),
      brand: s(p.Brand),
      productType: s(p.ProdType),
      hardwareId: s(p.HardwareID),
      soc: s(p.Soc),
      architecture: s(p.Architecture),
      uptimeSec,
    },
    os: {
      version: p.Version || fw?.fwActive || UNKNOWN,
      buildDate: s(p.BuildDate),
      firmware: fw ? toFirmwareState(fw) : null,
    },
  };
};

export const toFirmwareState = (fw: FirmwareStatus): FirmwareState => {
  const inactive = fw.fwInactive;
  return {
    activeVersion: fw.fwActive ?? null,
    inactiveVersion: inactive && inactive.toUpperCase() !== 'UNKNOWN' ? inactive : null,
    committed: fw.fwCommited ?? null,
    pendingRollback: fw.fwCommited === false || fw.fwPending === true || fw.fwPending === 'started',
    timeToRollbackSec: fw.fwRollback ?? null,
    lastUpgradeAt: fw.fwUpgradeAt ?? null,
  };
};

/** Whole seconds since boot from `<procNetDir>/../uptime` ("350735.47 234388.90"). */
const readUptime = async (ctx: CollectorContext): Promise<number> => {
  const path = parentDir(ctx.agentConf.procNetDir) + '/uptime';
  const text = await readText(ctx.host.fs, path, 4096);
  const m = /^\s*(\d+(?:\.\d+)?)\s+\d+(?:\.\d+)?\s*$/.exec(text);
  if (!m) throw new VigilError('device', 'EPARSE', `${path}: expected two numbers, got ${quote(text, 40)}`);
  return Math.floor(Number(m[1]));
};
