#!/usr/bin/env node
// The `vigil` command; cli/main.ts dispatches. The Node side is TypeScript run through tsx, so there is no
// separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
