/**
 * The dashboard's two roles: a viewer reads everything a page shows; an operator may also change things
 * (report-now, rebaseline, retire) and read the audit log of who did.
 */
export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

/** Reads only an operator may make: the audit log says who did what. */
const OPERATOR_READS = [/^\/api\/audit$/];

/** Why `role` may not make this request, or null when it may. */
export function refusal(role: Role, method: string, path: string): string | null {
  if (role === 'operator') return null;
  if (method !== 'GET' && method !== 'HEAD') return `${method} ${path} needs the operator role; this account is a viewer`;
  if (OPERATOR_READS.some((r) => r.test(path))) return `${path} needs the operator role; this account is a viewer`;
  return null;
}
