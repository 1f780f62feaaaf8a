/** Types for build.mjs, which tests call to build the bundle when dist/ is missing. */
import type { BuildOptions } from 'esbuild';

/** esbuild options for a QuickJS bundle (IIFE, ES2022, neutral platform, __VIGIL_VERSION__ defined). */
export const quickjsOptions: BuildOptions;
export function buildAgent(): Promise<{ bytes: number; gz: number }>;
