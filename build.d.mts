/** Types for build.mjs, which tests call to build the bundle when dist/ is missing. */
import type { BuildOptions, Metafile } from 'esbuild';

/** esbuild options for a QuickJS bundle (IIFE, ES2022, neutral platform, __VIGIL_VERSION__ defined). */
export const quickjsOptions: BuildOptions;
/** Property names esbuild may shorten in dist/agent.js: names that never leave the bundle. */
export const MANGLED_PROPS: string[];
/** Names of MANGLED_PROPS that may occur as words of prose in the agent's string literals (never as a key). */
export const PROSE_PROPS: string[];
/** The options of dist/agent.js (quickjsOptions, entry point, minify, mangleProps). */
export const agentOptions: BuildOptions;
export function buildAgent(): Promise<{ bytes: number; gz: number; metafile: Metafile }>;
/** Minified bytes per folder of agent/src, largest first. */
export function bytesByFolder(metafile: Metafile): Array<[string, number]>;
