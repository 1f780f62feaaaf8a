// The entry of a `vigil sim` worker thread: the TypeScript loader (as bin/vigil.mjs), then sim-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./sim-worker.ts');
