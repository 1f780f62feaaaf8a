/** Problems in the native host's C link graph under root, as `file: message` lines (see lint-native.mjs). */
export function lintNativeLinks(root: string, dir?: string): string[];
