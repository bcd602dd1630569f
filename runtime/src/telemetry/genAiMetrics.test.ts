import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { answerText, heapGrowthOf } from '../../../test/support/heapGrowth.ts';
import { responseMetaOfAnswer } from '../provider/responseMeta.ts';
import { genAiPeer } from './genAiConventions.ts';
import { GenAiMetrics } from './genAiMetrics.ts';

const peer = genAiPeer('Anthropic', 'http://127.0.0.1:8787');

async function scrape(registry: Registry): Promise<string> {
  return registry.metrics();
}

describe('the GenAI metrics on /metrics', () => {
  it('record a served call’s tokens by type, cache reads and writes counted as input', async () => {
    const registry = new Registry();
    new GenAiMetrics(registry).record({
      requestModel: 'claude-a',
      peer,
      durationMs: 300,
      errorType: undefined,
      response: { model: 'claude-a-2025' },
      usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 5 },
    });
    const text = await scrape(registry);
    const common =
      'gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-a",gen_ai_response_model="claude-a-2025",server_address="127.0.0.1",server_port="8787"';
    expect(text).toContain(`gen_ai_client_token_usage_sum{${common},gen_ai_token_type="input"} 15`);
    expect(text).toContain(
      `gen_ai_client_token_usage_sum{${common},gen_ai_token_type="output"} 20`,
    );
    expect(text).toContain(
      `gen_ai_client_token_usage_bucket{le="16",${common},gen_ai_token_type="input"} 1`,
    );
    expect(text).toContain(
      `gen_ai_client_operation_duration_seconds_sum{${common},error_type=""} 0.3`,
    );
    expect(text).toContain(
      `gen_ai_client_operation_duration_seconds_bucket{le="0.32",${common},error_type=""} 1`,
    );
    // Not a stream: no time to first token.
    expect(text).not.toMatch(/gen_ai_server_time_to_first_token_seconds_count\{/);
  });

  it('keep no answer alive in the series a response model makes', async () => {
    const registry = new Registry();
    const metrics = new GenAiMetrics(registry);
    // Each a new kind of call, whose series is kept as long as the process.
    const { bytes } = heapGrowthOf(() => {
      for (let i = 0; i < 128; i++)
        metrics.record({
          requestModel: 'claude-a',
          peer,
          durationMs: 300,
          errorType: undefined,
          response: responseMetaOfAnswer(
            answerText('msg_1', `claude-a-2025-${String(i)}`, 1 << 16),
          ),
          usage: { input_tokens: 10, output_tokens: 20 },
        });
    });
    // 128 answers of 64 KiB: kept with their models, the heap would have grown by 8 MiB.
    expect(bytes).toBeLessThan(2 << 20);
    expect(await scrape(registry)).toContain('gen_ai_response_model="claude-a-2025-127"');
  });

  it('record a failed attempt’s duration with its error type and no tokens', async () => {
    const registry = new Registry();
    new GenAiMetrics(registry).record({
      requestModel: 'claude-a',
      peer,
      durationMs: 50,
      errorType: 'RateLimited',
    });
    const text = await scrape(registry);
    expect(text).toMatch(
      /gen_ai_client_operation_duration_seconds_count\{[^}]*error_type="RateLimited"\} 1/,
    );
    expect(text).not.toMatch(/gen_ai_client_token_usage_count\{/);
  });

  it('record a relayed stream’s time to first token and per output token after it', async () => {
    const registry = new Registry();
    new GenAiMetrics(registry).record({
      requestModel: 'claude-a',
      peer,
      durationMs: 1100,
      firstEventMs: 100,
      errorType: undefined,
      usage: { input_tokens: 1, output_tokens: 11 },
    });
    const text = await scrape(registry);
    expect(text).toMatch(/gen_ai_server_time_to_first_token_seconds_sum\{[^}]*\} 0\.1$/m);
    expect(text).toMatch(/gen_ai_server_time_per_output_token_seconds_sum\{[^}]*\} 0\.1$/m);
    expect(text).not.toContain('time_to_first_chunk');
  });

  it('add the newer client streaming metrics only under gen_ai_latest_experimental', async () => {
    const registry = new Registry();
    new GenAiMetrics(registry, { latest: true }).record({
      requestModel: 'claude-a',
      peer,
      durationMs: 600,
      firstEventMs: 200,
      errorType: undefined,
      usage: { input_tokens: 1, output_tokens: 5 },
    });
    const text = await scrape(registry);
    expect(text).toMatch(/gen_ai_client_operation_time_to_first_chunk_seconds_sum\{[^}]*\} 0\.2$/m);
    expect(text).toMatch(
      /gen_ai_client_operation_time_per_output_chunk_seconds_sum\{[^}]*\} 0\.1$/m,
    );
  });
  it('count each kind of call in its own series, however many calls of each came', async () => {
    const registry = new Registry();
    const metrics = new GenAiMetrics(registry);
    const other = genAiPeer('Anthropic', 'http://127.0.0.1:8788');
    const call = (over: Partial<Parameters<GenAiMetrics['record']>[0]>) => {
      metrics.record({
        requestModel: 'claude-a',
        peer,
        durationMs: 100,
        errorType: undefined,
        response: { model: 'claude-a-1' },
        usage: { input_tokens: 1, output_tokens: 2 },
        ...over,
      });
    };
    call({});
    call({});
    call({ response: { model: 'claude-a-2' } });
    call({ requestModel: 'claude-b' });
    call({ peer: other });
    call({ errorType: 'Timeout', usage: undefined, response: undefined });
    call({});
    const text = await scrape(registry);
    const count = (labels: string) =>
      new RegExp(
        `gen_ai_client_token_usage_count\\{[^}]*${labels}[^}]*gen_ai_token_type="output"\\} (\\d+)`,
      ).exec(text)?.[1];
    expect(
      count(
        'gen_ai_request_model="claude-a",gen_ai_response_model="claude-a-1",server_address="127.0.0.1",server_port="8787"',
      ),
    ).toBe('3');
    expect(count('gen_ai_response_model="claude-a-2"')).toBe('1');
    expect(count('gen_ai_request_model="claude-b"')).toBe('1');
    expect(count('server_port="8788"')).toBe('1');
    expect(text).toMatch(
      /gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_response_model="",[^}]*error_type="Timeout"\} 1$/m,
    );
    expect(text).toMatch(
      /gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_response_model="claude-a-1",server_address="127.0.0.1",server_port="8787",error_type=""\} 3$/m,
    );
  });
});
