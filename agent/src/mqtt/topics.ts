/**
 * Vigil's topic layout and MQTT topic rules.
 *
 * Layout: `<prefix>/<serial>/state` (retained online/offline), `…/report`, `…/event`, `…/cmd/<name>`
 * (subscribed by the agent), `…/cmd-result`. The prefix defaults to `vigil/v1`.
 *
 * Topic names (what is published) are non-empty UTF-8 without `+`, `#` or U+0000; topic filters (what is
 * subscribed) may use `+` as a whole level and `#` as the whole last level. Both are at most 65535 bytes of
 * UTF-8, which the codec checks when it encodes them.
 */
import { argError } from './field-writer';

export const DEFAULT_TOPIC_PREFIX = 'vigil/v1';

export interface DeviceTopics {
  state: string;
  report: string;
  event: string;
  /** The filter the agent subscribes to: `<prefix>/<serial>/cmd/+`. */
  commands: string;
  cmdResult: string;
  command(name: string): string;
  /** The command name of a topic under `commands`, or null when the topic is not one. */
  commandName(topic: string): string | null;
}

const NUL_PROBLEM = 'a topic must not contain U+0000';

/** Why a string is not a valid topic name, or null when it is. */
export const topicNameProblem = (topic: string): string | null => {
  if (topic.length === 0) return 'a topic name must not be empty';
  if (/[+#]/.test(topic)) return `topic name "${topic}" must not contain the wildcards + or #`;
  if (topic.indexOf('\0') >= 0) return NUL_PROBLEM;
  return null;
};

/** Why a string is not a valid topic filter, or null when it is. */
export const topicFilterProblem = (filter: string): string | null => {
  if (filter.length === 0) return 'a topic filter must not be empty';
  if (filter.indexOf('\0') >= 0) return NUL_PROBLEM;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.length > 1 && /[+#]/.test(level)) {
      return `topic filter "${filter}": a wildcard must fill a whole level`;
    }
    if (level === '#' && i !== levels.length - 1) return `topic filter "${filter}": # must be the last level`;
  }
  return null;
};

/** True when a topic name matches a filter (`+` one level, `#` this level and all below; `$…` topics are not matched by a leading wildcard). */
export const topicMatches = (filter: string, topic: string): boolean => {
  if (topic[0] === '$' && (filter[0] === '+' || filter[0] === '#')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
};

/** The topics of one camera. Throws EINVAL for a prefix or serial that would break the layout. */
export const deviceTopics = (serial: string, prefix: string = DEFAULT_TOPIC_PREFIX): DeviceTopics => {
  if (!serial || /[/+#\0]/.test(serial)) {
    throw argError(`serial "${serial}" cannot be a topic level`);
  }
  const problem = topicNameProblem(prefix);
  if (problem || prefix[0] === '/' || prefix[prefix.length - 1] === '/') {
    throw argError(`topic prefix "${prefix}" is not usable: ${problem ?? 'no leading or trailing /'}`);
  }
  const base = `${prefix}/${serial}/`;
  const cmd = base + 'cmd/';
  return {
    state: base + 'state',
    report: base + 'report',
    event: base + 'event',
    commands: cmd + '+',
    cmdResult: base + 'cmd-result',
    command: (name) => cmd + name,
    commandName: (topic) => {
      if (!topic.startsWith(cmd)) return null;
      const name = topic.slice(cmd.length);
      return name && name.indexOf('/') < 0 ? name : null;
    },
  };
};
