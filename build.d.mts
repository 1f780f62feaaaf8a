/** Types for build.mjs, which tests call to build the bundle when dist/ is missing. */
export function buildAgent(): Promise<{ bytes: number; gz: number }>;
