/**
 * installHost: the global `__vigilHost` inside the engine, one engine function per Host member — the
 * TypeScript twin of host-native/src/host.h's table. Synchronous members return their value; asynchronous
 * ones return an engine promise that the host's promise settles later.
 */
import type { QuickJSContext, QuickJSDeferredPromise, QuickJSHandle } from 'quickjs-emscripten-core';
import type { Host } from '../../../agent/src/host';
import { hostError } from '../../../agent/src/host';
import type { Marshal } from './marshal';

/** What installHost needs of the runner that owns the engine. */
export interface HostBridge {
  readonly vm: QuickJSContext;
  readonly host: Host;
  readonly marshal: Marshal;
  /** Host promises not yet settled; the runner disposes what is left on stop. */
  readonly deferreds: Set<QuickJSDeferredPromise>;
  /** Timer callbacks (dup()ed) by timer id; the runner disposes what is left on stop. */
  readonly timers: Map<number, QuickJSHandle>;
  /** SHA-256 of the bundle, for Host.info when the host does not know it. */
  readonly bundleSha256: string | null;
  /** True once the runtime is disposed: a host promise that settles then is dropped. */
  disposed(): boolean;
  /** Runs engine code under the slice's limits. */
  slice<T>(fn: () => T): T;
  /** Runs the jobs a settled host promise queued. */
  pump(): void;
  fireTimer(id: number): void;
  /** A host promise could not be settled: counted as an engine error. */
  settleFailed(message: string): void;
}

function syncFn(b: HostBridge, target: QuickJSHandle, name: string, impl: (args: QuickJSHandle[]) => unknown): void {
  const fn = b.vm.newFunction(name, (...args: QuickJSHandle[]) => {
    try {
      return b.marshal.toHandle(impl(args));
    } catch (err) {
      return { error: b.marshal.errorHandle(err) };
    }
  });
  fn.consume((f) => b.vm.setProp(target, name, f));
}

/** impl reads its arguments synchronously (they die when the call returns) and returns a promise. */
function asyncFn(b: HostBridge, target: QuickJSHandle, name: string, impl: (args: QuickJSHandle[]) => Promise<unknown>): void {
  const fn = b.vm.newFunction(name, (...args: QuickJSHandle[]) => {
    const deferred = b.vm.newPromise();
    b.deferreds.add(deferred);
    let promise: Promise<unknown>;
    try {
      promise = impl(args);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (value) => settle(b, deferred, true, value),
      (err) => settle(b, deferred, false, err),
    );
    return deferred.handle;
  });
  fn.consume((f) => b.vm.setProp(target, name, f));
}

function settle(b: HostBridge, deferred: QuickJSDeferredPromise, ok: boolean, value: unknown): void {
  if (b.disposed() || !b.deferreds.has(deferred)) return;
  b.deferreds.delete(deferred);
  try {
    if (ok) {
      let h: QuickJSHandle;
      try {
        h = b.marshal.toHandle(value);
      } catch (err) {
        h = b.marshal.errorHandle(hostError('EIO', `could not pass the result into the engine: ${(err as Error).message}`));
        ok = false;
      }
      h.consume((v) => (ok ? deferred.resolve(v) : deferred.reject(v)));
    } else {
      b.marshal.errorHandle(value).consume((e) => deferred.reject(e));
    }
  } catch (err) {
    b.settleFailed(`could not settle a host promise: ${(err as Error).message}`);
    deferred.dispose();
  }
  b.pump();
}

/** Sets the global `__vigilHost` of the bridge's context. */
export function installHost(b: HostBridge): void {
  const vm = b.vm;
  const host = b.host;
  const m = b.marshal;
  m.installHelpers((fn) => b.slice(fn));

  const root = vm.newObject();
  vm.newNumber(host.apiVersion).consume((h) => vm.setProp(root, 'apiVersion', h));

  const fs = vm.newObject();
  asyncFn(b, fs, 'readFile', ([p, max]) => host.fs.readFile(m.str(p, 'path'), m.num(max, 'maxBytes')));
  asyncFn(b, fs, 'list', ([p]) => host.fs.list(m.str(p, 'path')));
  asyncFn(b, fs, 'stat', ([p]) => host.fs.stat(m.str(p, 'path')));
  asyncFn(b, fs, 'writeFileAtomic', ([p, d]) => host.fs.writeFileAtomic(m.str(p, 'path'), m.bytes(d, 'data')));
  asyncFn(b, fs, 'remove', ([p]) => host.fs.remove(m.str(p, 'path')));
  asyncFn(b, fs, 'mkdir', ([p]) => host.fs.mkdir(m.str(p, 'path')));
  fs.consume((h) => vm.setProp(root, 'fs', h));

  const net = vm.newObject();
  asyncFn(b, net, 'connect', ([o]) => host.net.connect(m.json(o, 'options') as Parameters<Host['net']['connect']>[0]));
  asyncFn(b, net, 'read', ([s]) => host.net.read(m.num(s, 'socket')));
  asyncFn(b, net, 'write', ([s, d]) => host.net.write(m.num(s, 'socket'), m.bytes(d, 'data')));
  syncFn(b, net, 'close', ([s]) => host.net.close(m.num(s, 'socket')));
  net.consume((h) => vm.setProp(root, 'net', h));

  const crypto = vm.newObject();
  syncFn(b, crypto, 'sha256', ([d]) => host.crypto.sha256(m.bytes(d, 'data')));
  asyncFn(b, crypto, 'sha256File', ([p, r]) => host.crypto.sha256File(m.str(p, 'path'), r ? m.num(r, 'maxBytesPerSec') : 0));
  syncFn(b, crypto, 'randomBytes', ([n]) => host.crypto.randomBytes(m.num(n, 'length')));
  syncFn(b, crypto, 'verifyP256', ([k, d, sig]) => host.crypto.verifyP256(m.bytes(k, 'publicKey'), m.bytes(d, 'data'), m.bytes(sig, 'signature')));
  crypto.consume((h) => vm.setProp(root, 'crypto', h));

  // offset and length are optional: an absent one stays undefined, anything else must be a number.
  const opt = (h: QuickJSHandle | undefined, what: string) => (!h || vm.typeof(h) === 'undefined' ? undefined : m.num(h, what));
  const text = vm.newObject();
  syncFn(b, text, 'decode', ([d, e, o, l]) =>
    host.text.decode(m.bytes(d, 'data'), m.str(e, 'encoding') as Parameters<Host['text']['decode']>[1], opt(o, 'offset'), opt(l, 'length')),
  );
  syncFn(b, text, 'isUtf8', ([d, o, l]) => host.text.isUtf8(m.bytes(d, 'data'), opt(o, 'offset'), opt(l, 'length')));
  syncFn(b, text, 'encode', ([t]) => host.text.encode(m.exactStr(t, 'text')));
  text.consume((h) => vm.setProp(root, 'text', h));

  const clock = vm.newObject();
  syncFn(b, clock, 'now', () => host.clock.now());
  syncFn(b, clock, 'monotonic', () => host.clock.monotonic());
  syncFn(b, clock, 'setTimer', ([d, cb]) => {
    const delay = m.num(d, 'delayMs');
    if (!cb || vm.typeof(cb) !== 'function') throw hostError('EINVAL', 'callback must be a function');
    const callback = cb.dup();
    let id = -1;
    try {
      id = host.clock.setTimer(delay, () => b.fireTimer(id));
    } catch (err) {
      callback.dispose();
      throw err;
    }
    b.timers.set(id, callback);
    return id;
  });
  syncFn(b, clock, 'clearTimer', ([t]) => {
    const id = m.num(t, 'timer');
    const callback = b.timers.get(id);
    if (callback) {
      b.timers.delete(id);
      callback.dispose();
    }
    host.clock.clearTimer(id);
  });
  clock.consume((h) => vm.setProp(root, 'clock', h));

  syncFn(b, root, 'log', ([l, msg]) => {
    const level = m.str(l, 'level');
    const message = msg && vm.typeof(msg) === 'string' ? vm.getString(msg) : String(msg ? vm.dump(msg) : '');
    host.log(level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info', message);
  });
  syncFn(b, root, 'config', () => host.config());
  if (typeof host.configOverrides === 'function') {
    const forced = host.configOverrides.bind(host);
    syncFn(b, root, 'configOverrides', () => forced());
  }
  syncFn(b, root, 'memory', () => host.memory());
  if (typeof host.vapixCredentials === 'function') {
    const get = host.vapixCredentials.bind(host);
    asyncFn(b, root, 'vapixCredentials', () => get());
  }
  m.toHandle({ ...host.info, bundleSha256: host.info.bundleSha256 ?? b.bundleSha256 }).consume((h) => vm.setProp(root, 'info', h));

  root.consume((h) => vm.setProp(vm.global, '__vigilHost', h));
}
