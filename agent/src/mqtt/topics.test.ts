import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_PREFIX, deviceTopics, topicFilterProblem, topicMatches, topicNameProblem } from './topics';

describe('device topics', () => {
  it('lays out a camera under vigil/v1/<serial> by default', () => {
    const t = deviceTopics('ACCC8E000001');
    expect(DEFAULT_TOPIC_PREFIX).toBe('vigil/v1');
    expect([t.state, t.report, t.event, t.commands, t.cmdResult, t.command('report-now')]).toEqual([
      'vigil/v1/ACCC8E000001/state',
      'vigil/v1/ACCC8E000001/report',
      'vigil/v1/ACCC8E000001/event',
      'vigil/v1/ACCC8E000001/cmd/+',
      'vigil/v1/ACCC8E000001/cmd-result',
      'vigil/v1/ACCC8E000001/cmd/report-now',
    ]);
  });

  it('uses a configured prefix', () => {
    expect(deviceTopics('S1', 'site-a/vigil').report).toBe('site-a/vigil/S1/report');
  });

  it('names the command of a topic under cmd/ and nothing else', () => {
    const t = deviceTopics('S1');
    expect(t.commandName('vigil/v1/S1/cmd/set-interval')).toBe('set-interval');
    expect(t.commandName('vigil/v1/S1/cmd/')).toBeNull();
    expect(t.commandName('vigil/v1/S1/cmd/a/b')).toBeNull();
    expect(t.commandName('vigil/v1/S2/cmd/report-now')).toBeNull();
    expect(t.commandName('vigil/v1/S1/cmd-result')).toBeNull();
  });

  it.each(['', 'a/b', 'a+', '#'])('refuses serial %j, which cannot be one topic level', (serial) => {
    expect(() => deviceTopics(serial)).toThrow(/\[vigil\] \[mqtt\] serial/);
  });

  it.each(['', '/vigil', 'vigil/', 'vigil/+', 'a/#'])('refuses prefix %j', (prefix) => {
    expect(() => deviceTopics('S1', prefix)).toThrow(/topic prefix .* is not usable/);
  });
});

describe('topic rules', () => {
  it.each([
    ['sport/tennis/player1', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/#', 'sport', true],
    ['sport/#', 'sport/tennis/player1', true],
    ['#', 'a/b/c', true],
    ['+/+', '/finance', true],
    ['+', '/finance', false],
    ['/+', '/finance', true],
    ['+/tennis/#', 'sport/tennis', true],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['#', '$SYS/broker', false],
    ['+/broker', '$SYS/broker', false],
    ['$SYS/#', '$SYS/broker', true],
    ['vigil/v1/+/cmd/+', 'vigil/v1/S1/cmd/report-now', true],
    ['vigil/v1/+/cmd/+', 'vigil/v1/S1/cmd-result', false],
  ])('matches filter %j against topic %j as %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it.each(['a/b', '/', 'a//b', 'caméra/東京'])('accepts topic name %j', (topic) => {
    expect(topicNameProblem(topic)).toBeNull();
  });

  it.each(['', 'a/+', 'a/#', 'a\0b'])('refuses topic name %j', (topic) => {
    expect(topicNameProblem(topic)).not.toBeNull();
  });

  it.each(['#', '+', 'a/+/b', 'a/#', '+/+/#', '/'])('accepts topic filter %j', (filter) => {
    expect(topicFilterProblem(filter)).toBeNull();
  });

  it.each(['', 'a/#/b', 'a#', 'a/b+', '+a', 'a\0'])('refuses topic filter %j', (filter) => {
    expect(topicFilterProblem(filter)).not.toBeNull();
  });
});
