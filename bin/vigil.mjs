#!/usr/bin/env node
// The `vigil` command. The Node side is TypeScript run through tsx, so there is no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../host-sim/src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
