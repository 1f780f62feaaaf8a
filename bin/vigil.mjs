#!/usr/bin/env -S node --max-semi-space-size=32
// The first line gives Node the fleet consumer's options (fleet/src/node-options.ts); `node bin/vigil.mjs` runs without them.
// The `vigil` command; cli/main.ts dispatches. The Node side is TypeScript run through tsx, so there is no
// separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
// A failed command ends here: a timer or socket left behind by a part that failed to start must not keep a
// process alive that a process manager would otherwise restart. (stdout and stderr are synchronous for files and
// pipes on Linux, so nothing written is lost.) A command that succeeded ends when it has closed everything.
if (code !== 0) process.exit(code);
process.exitCode = code;
