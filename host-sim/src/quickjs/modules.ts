/**
 * The QuickJS-wasm modules runtimes are created in: one shared module per variant (release, or debug with
 * its leak checks), or a fresh one for a test that poisons or leak-checks a module on purpose.
 */
import { newQuickJSWASMModuleFromVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import debugSyncVariant from '@jitl/quickjs-wasmfile-debug-sync';

export type QuickJSVariantName = 'release' | 'debug';

/** What the runner needs of a module: QuickJSWASMModule or the TestQuickJSWASMModule wrapper. */
export interface QuickJSModuleLike {
  newRuntime: QuickJSWASMModule['newRuntime'];
}

const modules = new Map<QuickJSVariantName, Promise<QuickJSWASMModule>>();

/** One wasm module per variant, shared by every runtime in the process (fleet mode: many cameras). */
export function loadQuickJSModule(variant: QuickJSVariantName = 'release'): Promise<QuickJSWASMModule> {
  let m = modules.get(variant);
  if (!m) {
    m = newQuickJSWASMModuleFromVariant(variant === 'debug' ? debugSyncVariant : releaseSyncVariant);
    modules.set(variant, m);
  }
  return m;
}

/** A fresh, unshared module: for tests that poison or leak-check a module on purpose. */
export function newQuickJSModule(variant: QuickJSVariantName = 'release'): Promise<QuickJSWASMModule> {
  return newQuickJSWASMModuleFromVariant(variant === 'debug' ? debugSyncVariant : releaseSyncVariant);
}

/**
 * The bytes of wasm memory the shared module of `variant` holds (0 before it is loaded). Wasm memory only
 * grows, so this is the peak of every runtime in it together.
 */
export async function wasmMemoryBytes(variant: QuickJSVariantName = 'release'): Promise<number> {
  const m = modules.get(variant);
  if (!m) return 0;
  const internals = (await m) as unknown as { module?: { HEAPU8?: Uint8Array } };
  return internals.module?.HEAPU8?.buffer.byteLength ?? 0;
}
