#!/usr/bin/env node
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
