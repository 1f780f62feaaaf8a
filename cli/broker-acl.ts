/**
 * The broker ACL of docs/broker-acl.md as data, and the one function that reads it. The embedded broker
 * (broker.ts) enforces it through Aedes's hooks; Mosquitto gets the same rules as an acl_file.
 *
 * `%p` is the topic prefix, `%u` the user name (for a camera: its serial). A publish is allowed when its
 * topic matches one of the role's publish patterns; a subscription when every topic its filter can match
 * is matched by one of the role's subscribe patterns (so `vigil/v1/#` is refused to a camera).
 */

export type BrokerRole = 'camera' | 'fleet' | 'status';

export const BROKER_ACL: Readonly<Record<BrokerRole, { publish: readonly string[]; subscribe: readonly string[] }>> = {
  // Only its own topics, and not its own cmd/ (a camera must not command itself, e.g. rebaseline).
  camera: { publish: ['%p/%u/state', '%p/%u/report', '%p/%u/event', '%p/%u/cmd-result'], subscribe: ['%p/%u/cmd/#'] },
  // The consumer: reads everything, alone writes commands and its alerts.
  fleet: { publish: ['%p/+/cmd/#', '%p/fleet/alert'], subscribe: ['%p/#'] },
  // `vigil status` and the demo's live table: the retained state and reports, nothing written.
  status: { publish: [], subscribe: ['%p/+/state', '%p/+/report'] },
};

/** A camera's user name is its serial (the report schema's serial pattern): no `/`, `+` or `#` to escape. */
export const CAMERA_USER = /^[A-Za-z0-9_-]{1,64}$/;

export interface BrokerIdentity {
  role: BrokerRole;
  user: string;
}

/** Whether `who` may publish on `topic`, or subscribe to the filter `topic` (a `$share/<group>/` prefix is looked through). */
export function aclAllows(who: BrokerIdentity, action: 'publish' | 'subscribe', topic: string, prefix = 'vigil/v1'): boolean {
  if (who.role === 'camera' && !CAMERA_USER.test(who.user)) return false;
  const wanted = action === 'subscribe' ? topic.replace(/^\$share\/[^/]+\//, '') : topic;
  if (action === 'publish' && /[+#]/.test(wanted)) return false;
  const levels = wanted.split('/');
  return BROKER_ACL[who.role][action].some((rule) => covers(rule.replace('%p', prefix).replace('%u', who.user).split('/'), levels));
}

/** Every topic the filter matches is matched by the pattern (for a plain topic: the pattern matches it). */
function covers(pattern: string[], filter: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '#') return true;
    if (i >= filter.length) return false;
    if (filter[i] === '#') return false; // the filter reaches further than a non-# pattern level
    if (pattern[i] === '+') continue;
    if (filter[i] !== pattern[i]) return false; // a literal never covers a filter's `+`
  }
  return filter.length === pattern.length;
}
