// The alert rules table (fleet/data/alerts.json) and the alert schema agree with the code.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMAS_DIR } from '../../../schemas/validator';
import { ALERT_KINDS, loadAlertRules, severityOf } from '../../src/alerts/rules';
import { DATA_DIR } from '../../src/data';

describe('the alert rules', () => {
  it('name every alert kind the code raises, as does the alert schema', () => {
    const rules = loadAlertRules();
    expect(Object.keys(rules.kinds).sort()).toEqual([...ALERT_KINDS].sort());
    const schema = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'alert.schema.json'), 'utf8'));
    expect([...schema.properties.kind.enum].sort()).toEqual([...ALERT_KINDS].sort());
  });

  it('give an advisory its severity from its CVSS score, and the unknown-score severity without one', () => {
    const rules = loadAlertRules();
    expect([9.8, 7.0, 6.9, 4.0, 0.1, null].map((c) => severityOf(rules, 'advisory', c))).toEqual(['critical', 'high', 'medium', 'medium', 'low', 'high']);
    expect(severityOf(rules, 'lost')).toBe('high');
  });

  it('fail loudly, naming the file and the problem, when alerts.json is invalid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
    try {
      const data = JSON.parse(readFileSync(join(DATA_DIR, 'alerts.json'), 'utf8'));
      data.kinds.lost.severity = 'dire';
      writeFileSync(join(dir, 'alerts.json'), JSON.stringify(data));
      expect(() => loadAlertRules(join(dir, 'alerts.json'))).toThrow(/\[vigil\] \[fleet\] .*alerts\.json does not match schemas\/alerts\.schema\.json: \/kinds\/lost\/severity/);
      writeFileSync(join(dir, 'alerts.json'), '{');
      expect(() => loadAlertRules(join(dir, 'alerts.json'))).toThrow(/cannot read .*alerts\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
