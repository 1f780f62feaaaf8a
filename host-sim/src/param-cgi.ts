/**
 * param.cgi of the simulated camera (reference axis-os.md §3.4, §4.1):
 *   action=list&group=A,B        `root.Group.Name=value` lines: the profile's parameters, and the app's own group
 *                                `root.vigil.*` (its paramConfig from manifest.json, with the camera's values)
 *   action=update&root.vigil.X=Y an admin changes the app's parameters, as the app's settings page does
 * An app parameter is what a user sets on the camera's page: it reaches the agent only through this group.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Profile } from './profiles';
import { profileParams } from './profiles';

/** The app's group: manifest.json's setup.appName. */
export const APP_GROUP = 'vigil';

/** param.cgi's Content-Type on a real camera: its bodies are ISO-8859-1 (reference axis-os.md §4, "param.cgi charset"). */
export const PARAM_CGI_TYPE = 'text/plain; charset=ISO-8859-1';

/** One entry of manifest.json's configuration.paramConfig. */
export interface AppParam {
  name: string;
  default: string;
  type: string;
}

/** The app's declared parameters, from the repository's manifest.json. */
export function manifestAppParams(): AppParam[] {
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../manifest.json', import.meta.url)), 'utf8'));
  return manifest.acapPackageConf.configuration.paramConfig as AppParam[];
}

/**
 * The app's parameters on this camera: the declared defaults, then the camera's values. Only declared
 * parameters exist; a `readonly:` one cannot be updated (axparameter's types, reference §1.4). Values are not
 * checked against their types, as the agent must cope with whatever a camera holds.
 */
export class AppSettings {
  private readonly declared = new Map<string, AppParam>();
  private readonly values = new Map<string, string>();

  constructor(params: AppParam[] = manifestAppParams(), values: Record<string, string> = {}) {
    for (const p of params) {
      this.declared.set(p.name, p);
      this.values.set(p.name, p.default);
    }
    for (const [k, v] of Object.entries(values)) if (this.declared.has(k)) this.values.set(k, v);
  }

  get(name: string): string | null {
    return this.values.get(name) ?? null;
  }

  /** True for a declared parameter whose type is not `readonly:` (prefixes such as `hidden:` may come first). */
  settable(name: string): boolean {
    const p = this.declared.get(name);
    return !!p && !/^([a-z]+:)*readonly:/.test(p.type);
  }

  /** Sets a parameter as an admin would; false for an undeclared or readonly one (nothing changes then). */
  set(name: string, value: string): boolean {
    if (!this.settable(name)) return false;
    this.values.set(name, value);
    return true;
  }

  /** The parameters as param.cgi names them, without `root.`: `vigil.IntervalSec`. */
  asParams(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.values) out[`${APP_GROUP}.${k}`] = v;
    return out;
  }
}

/**
 * param.cgi action=list. A missing group gives `# Error: Error -1 getting param in group 'X'`, and the
 * line after such an error loses its `root.` prefix, as observed on devices (reference §3.4).
 */
export function paramList(profile: Profile, groupSpec: string | null, overrides: Record<string, string> = {}, app?: AppSettings): string {
  const params = { ...profileParams(profile), ...(app ? app.asParams() : {}), ...overrides };
  const names = Object.keys(params).sort();
  const groups = groupSpec ? groupSpec.split(',').map((g) => g.trim()).filter((g) => g.length > 0) : [''];
  const lines: string[] = [];
  let dropRoot = false;
  for (const g of groups) {
    const group = g.replace(/^root\.?/, '');
    const hits = group === '' ? names : names.filter((n) => n === group || n.startsWith(group + '.'));
    if (hits.length === 0) {
      lines.push(`# Error: Error -1 getting param in group '${group}'`);
      dropRoot = true;
      continue;
    }
    for (const n of hits) {
      lines.push(`${dropRoot ? '' : 'root.'}${n}=${params[n]}`);
      dropRoot = false;
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * param.cgi action=update: every `[root.]vigil.<Param>=value` pair, all or nothing. `OK` when all were set;
 * else one `# Error:` line naming the first refused one (a parameter outside the app's group, undeclared, or
 * readonly). The exact wording of a real camera's refusal is not documented [unconfirmed]; agents only need
 * "not OK".
 */
export function paramUpdate(q: URLSearchParams, app: AppSettings): string {
  const pairs = [...q].filter(([k]) => k !== 'action');
  if (pairs.length === 0) return '# Error: no parameter to update\n';
  const prefix = `${APP_GROUP}.`;
  for (const [k, v] of pairs) {
    const name = k.replace(/^root\./, '');
    const param = name.startsWith(prefix) ? name.slice(prefix.length) : null;
    if (param === null || !app.settable(param)) return `# Error: Error setting '${k}' to '${v}'!\n`;
  }
  for (const [k, v] of pairs) app.set(k.replace(/^root\./, '').slice(prefix.length), v);
  return 'OK\n';
}

export function paramCgi(profile: Profile, q: URLSearchParams, overrides: Record<string, string>, app: AppSettings) {
  const action = q.get('action');
  if (action === 'list') return { status: 200, type: PARAM_CGI_TYPE, body: paramList(profile, q.get('group'), overrides, app) };
  if (action === 'update') return { status: 200, type: PARAM_CGI_TYPE, body: paramUpdate(q, app) };
  return { status: 200, type: PARAM_CGI_TYPE, body: `# Error: action ${action ?? '(none)'} is not supported by the simulator\n` };
}
