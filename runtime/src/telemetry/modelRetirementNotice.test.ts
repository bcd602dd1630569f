import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { AgentModels } from '../../../contract/src/api/modelRetirements.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { createLogger } from './logger.ts';
import { ModelRetirementNotice } from './modelRetirementNotice.ts';
import { RuntimeMetrics } from './runtimeMetrics.ts';

/** claude-sonnet-4-5's end of life, 2026-11-30T00:00:00Z, in Unix seconds. */
const SONNET_END_S = Date.parse('2026-11-30T00:00:00Z') / 1000;
const CHECKED_MS = Date.parse('2026-11-22T12:00:00Z');

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly model?: string;
  readonly endOfLife?: string;
}

function notice(now = CHECKED_MS) {
  const lines: LogLine[] = [];
  const metrics = new RuntimeMetrics(new Registry(), { defaults: false });
  const logger = createLogger('info', 'test', {
    write: (line: string) => {
      lines.push(JSON.parse(line) as LogLine);
    },
  });
  const subject = new ModelRetirementNotice({
    gauge: metrics.modelEndOfLife,
    logger,
    clock: new ManualClock(now),
  });
  const series = async () =>
    (await metrics.modelEndOfLife.get()).values.map((v) => [v.labels.model, v.value]);
  return { subject, lines, series };
}

describe('ModelRetirementNotice', () => {
  it.each<{ name: string; models: AgentModels; series: [string, number][]; said: string[] }>([
    {
      name: 'exports nothing and says nothing for current models',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-haiku-5-5'] },
      series: [],
      said: [],
    },
    {
      name: 'exports a deprecated model with its end of life in Unix seconds, and warns',
      models: { name: 'claude-sonnet-4-5', fallbacks: ['claude-haiku-5-5'] },
      series: [['claude-sonnet-4-5', SONNET_END_S]],
      said: ['warn: model claude-sonnet-4-5 is deprecated and retires on 2026-11-30'],
    },
    {
      name: 'exports a deprecated fallback too',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-sonnet-4-5-20250929'] },
      series: [['claude-sonnet-4-5-20250929', SONNET_END_S]],
      said: ['warn: fallback claude-sonnet-4-5-20250929 is deprecated and retires on 2026-11-30'],
    },
    {
      name: 'logs an error for a model already past its end of life',
      models: { name: 'claude-mythos-preview' },
      series: [['claude-mythos-preview', Date.parse('2026-06-30T00:00:00Z') / 1000]],
      said: [
        'error: model claude-mythos-preview retired on 2026-06-30: the provider refuses calls to it',
      ],
    },
  ])('$name', async ({ models, series, said }) => {
    const { subject, lines, series: exported } = notice();
    subject.update(models);
    expect(await exported()).toEqual(series);
    expect(lines.map((l) => `${l.level}: ${l.msg}`)).toEqual(said);
  });

  it('says it once at start, not again on a reload that keeps the models', () => {
    const { subject, lines } = notice();
    subject.update({ name: 'claude-sonnet-4-5', fallbacks: [] });
    subject.update({ name: 'claude-sonnet-4-5', fallbacks: [] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ model: 'claude-sonnet-4-5', endOfLife: '2026-11-30' });
  });

  it('drops the series and says nothing more after a reload moves the agent to a current model', async () => {
    const { subject, lines, series } = notice();
    subject.update({ name: 'claude-sonnet-4-5' });
    subject.update({ name: 'claude-sonnet-5-5' });
    expect(await series()).toEqual([]);
    expect(lines).toHaveLength(1);
  });

  it('says it again when a reload brings a deprecated model back', () => {
    const { subject, lines } = notice();
    subject.update({ name: 'claude-sonnet-4-5' });
    subject.update({ name: 'claude-sonnet-5-5', fallbacks: ['claude-sonnet-4-5'] });
    expect(lines.map((l) => l.msg)).toEqual([
      'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
      'fallback claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
    ]);
  });
});
