/**
 * Values across the wasm boundary: Node values into engine handles (ArrayBuffers copied), engine arguments
 * checked and read back (EINVAL when they are of the wrong type), and host failures as engine Errors with
 * `code` and `message`, as the Host contract promises.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten-core';
import { hostError } from '../../../agent/src/host';

export class Marshal {
  /** The engine-side helper that turns an ArrayBuffer or a view into an ArrayBuffer (see installHelpers). */
  private toArrayBufferFn: QuickJSHandle | null = null;
  /**
   * Engine-side helpers for strings the wasm boundary would change: it carries strings as NUL-terminated UTF-8
   * and decodes with a TextDecoder, so a NUL cuts a string short, a leading U+FEFF is dropped and a lone
   * surrogate comes out as three U+FFFD. Such strings cross as JSON instead (see exactStr and toHandle).
   */
  private stringifyFn: QuickJSHandle | null = null;
  private parseFn: QuickJSHandle | null = null;

  constructor(
    private readonly rt: QuickJSRuntime,
    private readonly vm: QuickJSContext,
    private readonly memoryLimitBytes: number,
  ) {}

  /** Evaluates the engine-side helpers, inside `slice` (it is engine code, under the slice's limits). */
  installHelpers(slice: <T>(fn: () => T) => T): void {
    const toAb = slice(() =>
      this.vm.evalCode(
        '(function (v) { if (v instanceof ArrayBuffer) return v; if (ArrayBuffer.isView(v)) return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength); return undefined; })',
        'host-sim-helpers.js',
        { type: 'global' },
      ),
    );
    this.toArrayBufferFn = this.vm.unwrapResult(toAb);
    const helper = (code: string) => this.vm.unwrapResult(slice(() => this.vm.evalCode(code, 'host-sim-helpers.js', { type: 'global' })));
    this.stringifyFn = helper("(function (s) { return typeof s === 'string' ? JSON.stringify(s) : undefined; })");
    this.parseFn = helper('(function (j) { return JSON.parse(j); })');
  }

  /** Frees the helpers (before the context is disposed). */
  dispose(): void {
    if (this.toArrayBufferFn) this.toArrayBufferFn.dispose();
    this.toArrayBufferFn = null;
    for (const h of [this.stringifyFn, this.parseFn]) if (h) h.dispose();
    this.stringifyFn = this.parseFn = null;
  }

  toHandle(value: unknown): QuickJSHandle {
    const vm = this.vm;
    if (value === undefined) return vm.undefined;
    if (value === null) return vm.null;
    if (typeof value === 'boolean') return value ? vm.true : vm.false;
    if (typeof value === 'number') return vm.newNumber(value);
    if (typeof value === 'string') {
      // A NUL or a leading U+FEFF would not survive the boundary as it is (see stringifyFn): it crosses as JSON.
      if (this.parseFn && (value.indexOf('\0') >= 0 || value.charCodeAt(0) === 0xfeff)) {
        return vm.newString(JSON.stringify(value)).consume((j) => vm.unwrapResult(vm.callFunction(this.parseFn as QuickJSHandle, vm.undefined, j)));
      }
      return vm.newString(value);
    }
    if (value instanceof ArrayBuffer) return vm.newArrayBuffer(value);
    if (ArrayBuffer.isView(value)) {
      const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return vm.newArrayBuffer(view.slice().buffer);
    }
    if (Array.isArray(value)) {
      const arr = vm.newArray();
      try {
        value.forEach((item, i) => this.toHandle(item).consume((h) => vm.setProp(arr, i, h)));
      } catch (err) {
        arr.dispose();
        throw err;
      }
      return arr;
    }
    if (typeof value === 'object') {
      const obj = vm.newObject();
      try {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v === undefined || typeof v === 'function') continue;
          this.toHandle(v).consume((h) => vm.setProp(obj, k, h));
        }
      } catch (err) {
        obj.dispose();
        throw err;
      }
      return obj;
    }
    return vm.newString(String(value));
  }

  /** An Error inside the engine with `.code` and `.message`, as the Host contract promises. */
  errorHandle(err: unknown): QuickJSHandle {
    const code = err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'EIO';
    const message = err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : String(err);
    const h = this.vm.newError({ name: 'Error', message });
    try {
      this.vm.newString(code).consume((c) => this.vm.setProp(h, 'code', c));
    } catch (e) {
      h.dispose();
      throw e;
    }
    return h;
  }

  str(h: QuickJSHandle | undefined, what: string): string {
    if (!h || this.vm.typeof(h) !== 'string') throw hostError('EINVAL', `${what} must be a string`);
    return this.vm.getString(h);
  }

  /** A string argument exactly as the engine holds it (NULs, a leading U+FEFF and lone surrogates included). */
  exactStr(h: QuickJSHandle | undefined, what: string): string {
    if (!h || this.vm.typeof(h) !== 'string' || !this.stringifyFn) throw hostError('EINVAL', `${what} must be a string`);
    const json = this.vm.unwrapResult(this.vm.callFunction(this.stringifyFn, this.vm.undefined, h)).consume((j) => this.vm.getString(j));
    return JSON.parse(json) as string;
  }

  num(h: QuickJSHandle | undefined, what: string): number {
    if (!h || this.vm.typeof(h) !== 'number') throw hostError('EINVAL', `${what} must be a number`);
    return this.vm.getNumber(h);
  }

  bytes(h: QuickJSHandle | undefined, what: string): ArrayBuffer {
    if (!h || !this.toArrayBufferFn) throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
    const r = this.vm.callFunction(this.toArrayBufferFn, this.vm.undefined, h);
    if (r.error) {
      r.error.dispose();
      throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
    }
    return r.value.consume((ab) => {
      if (this.vm.typeof(ab) !== 'object') throw hostError('EINVAL', `${what} must be an ArrayBuffer`);
      const view = this.vm.getArrayBuffer(ab);
      try {
        return view.value.slice().buffer as ArrayBuffer;
      } finally {
        view.dispose();
      }
    });
  }

  json(h: QuickJSHandle | undefined, what: string): unknown {
    if (!h || this.vm.typeof(h) !== 'object') throw hostError('EINVAL', `${what} must be an object`);
    return this.vm.dump(h);
  }

  /** Dumps a value and disposes it; lifts the memory limit meanwhile, since the engine may be at its limit right now. */
  dumpSafely(h: QuickJSHandle): unknown {
    this.rt.setMemoryLimit(-1);
    try {
      return this.vm.dump(h);
    } catch (err) {
      return { name: 'Error', message: `(could not read the value: ${(err as Error).message})` };
    } finally {
      if (h.alive) h.dispose();
      this.rt.setMemoryLimit(this.memoryLimitBytes);
    }
  }
}
