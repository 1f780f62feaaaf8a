export const MAX_LINES: number;
/** Source files under root longer than max lines, as `file: message` lines (see lint-size.mjs). */
export function lintFileSizes(root: string, max?: number): string[];
