// A vitest setup file (vitest.config.ts): the agent's text functions (agent/src/util/text.ts) get Node's
// codec before any test runs, as the agent gets its host's at start.
import { installText } from '../src/util/text';
import { nodeText } from './node-text';

installText(nodeText);
