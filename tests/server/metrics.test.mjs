// GET /metrics: the fixed metric families, what the counters count, and `promtool check metrics`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { QUESTION, assertBlockattn, metricSum, scrape, uniqueDoc, useServer } from './server.mjs';

const server = useServer({ name: 'metrics' });

const FAMILIES = {
  blockattn_requests_total: 'counter',
  blockattn_prompt_tokens_total: 'counter',
  blockattn_generated_tokens_total: 'counter',
  blockattn_time_to_first_token_seconds: 'histogram',
  blockattn_inter_token_latency_seconds: 'histogram',
  blockattn_queue_depth: 'gauge',
  blockattn_requests_running: 'gauge',
  blockattn_block_cache_hits_total: 'counter',
  blockattn_block_cache_misses_total: 'counter',
  blockattn_block_cache_bytes: 'gauge',
  blockattn_block_cache_evictions_total: 'counter',
  blockattn_block_cache_writes_dropped_total: 'counter',
  blockattn_errors_total: 'counter',
};

function promtool(text) {
  return new Promise((resolve, reject) => {
    let p;
    try {
      p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(e);
      return;
    }
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', (e) => reject(new Error(`cannot run promtool (${e.message}): install Debian's prometheus ` +
      '(scripts/install_deps.sh)')));
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}

// requests_total summed over the series of one endpoint and status. The endpoint label's exact
// value is the server's choice (e.g. "/v1/chat/completions"): chat is the one naming "chat",
// completions the one naming "completions" and not "chat".
const ENDPOINTS = {
  chat: (e) => /chat/.test(e) && /completions/.test(e),
  completions: (e) => /completions/.test(e) && !/chat/.test(e),
};
function requests(parsed, endpoint, status) {
  let sum = 0;
  for (const s of parsed.samples) {
    if (s.name === 'blockattn_requests_total' && ENDPOINTS[endpoint](String(s.labels.endpoint)) &&
        s.labels.status === String(status)) sum += s.value;
  }
  return sum;
}

const chat = (extra = {}) => ({
  model: server.modelId,
  messages: [{ role: 'user', content: QUESTION }],
  max_tokens: 8,
  temperature: 0,
  ...extra,
});

test('GET /metrics is Prometheus text with every family, typed and described', async () => {
  const m = await scrape(server);
  assert.match(m.headers.get('content-type') || '', /^text\/plain/, 'content-type text/plain (version=0.0.4)');
  for (const [name, type] of Object.entries(FAMILIES)) {
    assert.equal(m.types.get(name), type, `# TYPE ${name} ${type}\n--- metrics ---\n${m.text}`);
    assert.ok(new RegExp(`^# HELP ${name} \\S`, 'm').test(m.text), `# HELP ${name} …`);
  }
  for (const name of ['blockattn_queue_depth', 'blockattn_requests_running']) {
    assert.ok(m.samples.some((s) => s.name === name), `${name} has a sample`);
    assert.equal(metricSum(m, name), 0, `${name} is 0 while idle`);
  }
  for (const name of ['blockattn_prompt_tokens_total', 'blockattn_generated_tokens_total']) {
    assert.ok(m.samples.some((s) => s.name === name), `${name} has a sample from the start`);
  }
});

test('counters: requests, prompt and generated tokens, TTFT and inter-token histograms, errors', async () => {
  const client = await server.openai();
  const before = await scrape(server);
  const a = await client.chat.completions.create(chat());
  const b = await client.completions.create({ model: server.modelId, prompt: 'The river Lune', max_tokens: 8, temperature: 0 });
  const bad = await server.post('/v1/chat/completions', chat({ max_tokens: -3 }));
  assert.equal(bad.status, 400, bad.text);
  const after = await scrape(server);
  const d = (name, labels) => metricSum(after, name, labels) - metricSum(before, name, labels);

  assert.equal(requests(after, 'chat', 200) - requests(before, 'chat', 200), 1,
    `requests_total{endpoint~"chat/completions",status="200"} +1\n${after.text}`);
  assert.equal(requests(after, 'completions', 200) - requests(before, 'completions', 200), 1,
    'requests_total{endpoint~"/v1/completions",status="200"} +1');
  assert.equal(requests(after, 'chat', 400) - requests(before, 'chat', 400), 1,
    'requests_total{endpoint~"chat/completions",status="400"} +1');
  assert.equal(d('blockattn_prompt_tokens_total'), a.usage.prompt_tokens + b.usage.prompt_tokens, 'prompt tokens');
  assert.equal(d('blockattn_generated_tokens_total'), a.usage.completion_tokens + b.usage.completion_tokens,
    'generated tokens');
  assert.equal(d('blockattn_time_to_first_token_seconds_count'), 2, 'one TTFT observation per generation');
  assert.ok(d('blockattn_time_to_first_token_seconds_sum') > 0, 'TTFT sum grew');
  const gaps = a.usage.completion_tokens + b.usage.completion_tokens - 2;
  assert.ok(d('blockattn_inter_token_latency_seconds_count') >= gaps,
    `inter-token observations ≥ ${gaps} (got ${d('blockattn_inter_token_latency_seconds_count')})`);
  assert.ok(d('blockattn_errors_total') >= 1, 'errors_total counts the bad request');
  for (const h of ['blockattn_time_to_first_token_seconds', 'blockattn_inter_token_latency_seconds']) {
    const inf = metricSum(after, `${h}_bucket`, { le: '+Inf' });
    assert.equal(inf, metricSum(after, `${h}_count`), `${h}_bucket{le="+Inf"} == ${h}_count`);
  }
});

test('block cache counters: a repeated request adds one memory hit per block', async () => {
  const client = await server.openai();
  const blocks = [{ text: uniqueDoc('Aspen') }, { text: uniqueDoc('Beech') }, { text: uniqueDoc('Cherry') },
    { text: uniqueDoc('Dogwood') }];
  const m0 = await scrape(server);
  const r1 = await client.chat.completions.create(chat({ blocks }));
  assertBlockattn(r1, { blocks: 4 });
  const m1 = await scrape(server);
  const r2 = await client.chat.completions.create(chat({ blocks }));
  assert.ok(assertBlockattn(r2, { blocks: 4 }).blocks.every((x) => x.reused && x.tier === 'memory'));
  const m2 = await scrape(server);
  const hits = (m) => metricSum(m, 'blockattn_block_cache_hits_total', { tier: 'memory' });
  const misses = (m) => metricSum(m, 'blockattn_block_cache_misses_total');
  assert.equal(hits(m1) - hits(m0), 0, 'new blocks: no hits');
  assert.ok(misses(m1) - misses(m0) >= 4, 'new blocks: ≥ 4 misses');
  assert.equal(hits(m2) - hits(m1), 4, 'repeat: 4 memory hits');
  assert.equal(misses(m2) - misses(m1), 0, 'repeat: no misses');
  assert.ok(metricSum(m2, 'blockattn_block_cache_bytes', { tier: 'memory' }) >
    metricSum(m0, 'blockattn_block_cache_bytes', { tier: 'memory' }), 'cache bytes grew');
});

test('promtool check metrics accepts /metrics (after traffic of every kind)', async () => {
  const client = await server.openai();
  await client.chat.completions.create(chat({ blocks: [{ text: uniqueDoc('Eucalyptus') }] }));
  await server.post('/v1/chat/completions', '{bad json');
  await server.get('/v1/unknown-path');
  const m = await scrape(server);
  const { code, out } = await promtool(m.text);
  assert.equal(code, 0, `promtool check metrics exited ${code}:\n${out}\n--- metrics ---\n${m.text}`);
});
