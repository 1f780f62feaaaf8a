/**
 * The agent's settings, from three layers, lowest first:
 *   1. host.config(): the defaults (param.conf on the camera, the profile in the simulator);
 *   2. the camera's own settings page: the app's group in param.cgi, `root.vigil.<Param>` (reference §3.4),
 *      read every cycle, so a change there applies without a restart;
 *   3. host.configOverrides(): what a lab or a test forced (--config, --set).
 * A bad value is logged once and the previous good value of that parameter is kept; the others still apply.
 */
import type { Host } from './host';
import { type AgentConfig, checkConfig, parseConfig } from './config';
import type { AreaLog } from './log';
import type { VapixClient } from './vapix/vapix';
import { errorDetail } from './util/errors';

/** The app's parameter group in param.cgi: manifest.json's setup.appName. */
export const APP_GROUP = 'vigil';

/** Parameters whose change needs a new broker connection (the others apply from their next use). */
export const BROKER_PARAMS = /^(Broker|ClientId|KeepaliveSec|MqttVersion|TopicPrefix)/;

/** The app's parameters (names without `root.vigil.`); null when param.cgi has no such group. */
export const readCameraSettings = async (vapix: Pick<VapixClient, 'listParams'>): Promise<Record<string, string> | null> => {
  let out: Record<string, string> | null = null;
  const prefix = APP_GROUP + '.';
  for (const [name, value] of (await vapix.listParams(['root.' + APP_GROUP])).params) {
    if (name.startsWith(prefix)) (out ??= {})[name.slice(prefix.length)] = value;
  }
  return out;
};

/** The raw values of the three layers, the higher one winning per parameter. */
export const layerSettings = (host: Pick<Host, 'config' | 'configOverrides'>, camera: Record<string, string> | null): Record<string, string> => ({
  ...host.config(),
  ...camera,
  ...host.configOverrides?.(),
});

export interface Settings {
  /** The app's parameters from param.cgi; null when they cannot be read (logged once per outage). */
  read(vapix: Pick<VapixClient, 'listParams'>): Promise<Record<string, string> | null>;
  /** The first start: every value must be good (throws parseConfig's error, which lists the bad ones). */
  first(camera: Record<string, string> | null): AgentConfig;
  /**
   * The camera's values now: changes the config first() returned in place (so every holder of it sees them
   * from its next use) and returns the names that changed.
   */
  update(camera: Record<string, string>): string[];
}

export const createSettings = (host: Pick<Host, 'config' | 'configOverrides'>, log: AreaLog): Settings => {
  let config: AgentConfig;
  /** The raw values in force: each one parsed. */
  let good: Record<string, string> = {};
  /** Bad values already logged, so a bad value left on the page is logged once, not every cycle. */
  let logged: Record<string, string> = {};
  let lost = false;
  const shown = (name: string, value = '') => (/Password/.test(name) ? name : `${name}=${JSON.stringify(value)}`);
  /** `raw` with each bad value that `previous` has otherwise replaced by the previous one (logged once). */
  const keepGood = (raw: Record<string, string>, previous: Record<string, string>): Record<string, string> => {
    const { problems } = checkConfig(raw);
    const bad: Record<string, string> = {};
    for (const name in problems) {
      if (previous[name] === raw[name]) continue;
      bad[name] = raw[name];
      if (logged[name] !== raw[name]) log('warn', `${problems[name]}; keeping ${shown(name, previous[name])}`);
      if (name in previous) raw[name] = previous[name];
      else delete raw[name];
    }
    logged = bad;
    return raw;
  };

  return {
    async read(vapix) {
      let why: string;
      try {
        const camera = await readCameraSettings(vapix);
        if (camera) {
          if (lost) log('info', `the camera's settings are readable again`);
          lost = false;
          return camera;
        }
        why = `param.cgi has no group root.${APP_GROUP}`;
      } catch (err) {
        why = errorDetail(err);
      }
      if (!lost) log('warn', `cannot read the camera's settings (${why}); keeping the ones in use`);
      lost = true;
      return null;
    },
    first(camera) {
      // A bad value on the page falls back to param.conf's; one bad in every layer fails as parseConfig does.
      good = keepGood(layerSettings(host, camera), layerSettings(host, null));
      return (config = parseConfig(good));
    },
    update(camera) {
      const raw = keepGood(layerSettings(host, camera), good);
      const changed = Object.keys({ ...good, ...raw }).filter((k) => raw[k] !== good[k]);
      if (changed.length === 0) return changed;
      const next = parseConfig(raw);
      // The outboxes and the state stay in the data dir the agent started with: a new DataDir applies from the next start.
      next.dataDir = config.dataDir;
      good = raw;
      assign(config, next);
      log('info', `settings changed: ${changed.map((k) => shown(k, raw[k])).join(', ')}`);
      return changed;
    },
  };
};

/** Copies `from` into `to`, nested objects member by member, so references to them stay current. */
const assign = (to: any, from: any): void => {
  for (const k in from) {
    const v = from[k];
    if (v && typeof v === 'object' && !Array.isArray(v)) assign(to[k], v);
    else to[k] = v;
  }
};
