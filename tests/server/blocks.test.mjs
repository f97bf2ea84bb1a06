// The block API: `blocks` / `attention` / `segment` in chat and completions requests, the
// `blockattn` report, /v1/blocks (register, use by id, delete, stats) and /v1/segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BLOCK_ID, QUESTION, assertBlockattn, assertCompletion, assertError, metricSum, postStream, scrape,
  streamedText, uniqueDoc, useServer,
} from './server.mjs';

const server = useServer({ name: 'blocks' });

const chat = (blocks, extra = {}) => ({
  model: server.modelId,
  messages: [{ role: 'user', content: QUESTION }],
  max_tokens: 12,
  temperature: 0,
  blocks,
  ...extra,
});

function assertAll(ba, reused, tier, ctx) {
  for (const b of ba.blocks) {
    assert.equal(b.reused, reused, `blocks[${b.index}].reused: ${ctx}`);
    assert.equal(b.tier, tier, `blocks[${b.index}].tier: ${ctx}`);
  }
}

const LONG_TEXT = [
  'The Walnut archive sits at the top of the north tower of the old library. It holds the city\'s land ' +
    'records from 1820 to 1950, bound in green leather. Visitors sign the ledger at the door.',
  'The access code of the Walnut archive is 48213. The code changes every spring, on the first Monday ' +
    'of April, and the new code is posted at the porter\'s lodge — never online.',
  'Café Ümlaut on the corner serves crêpes and 東京-style ramen; its owner, Zoë, keeps the spare key ' +
    'to the tower in a tin box behind the counter.',
  'The river Lune floods the lower meadow every March. The ferry stops running when the water reaches ' +
    'the third post; the ferryman lives in the blue house by the jetty.',
  'To install a package on Debian, run apt-get install followed by the package name. apt-get update ' +
    'refreshes the package lists from the configured mirrors.',
].join('\n\n');

test('blocks: the second request reuses every block from memory, also in another order; /metrics counts the hits', async () => {
  const client = await server.openai();
  const texts = [uniqueDoc('Walnut'), uniqueDoc('Birch'), uniqueDoc('Cedar')];
  const before = await scrape(server);

  const r1 = await client.chat.completions.create(chat(texts.map((text) => ({ text }))));
  assertCompletion(r1, { chat: true, modelId: server.modelId, maxTokens: 12 });
  const b1 = assertBlockattn(r1, { blocks: 3 });
  assertAll(b1, false, null, `first request: ${JSON.stringify(b1)}`);

  const r2 = await client.chat.completions.create(chat(texts.map((text) => ({ text }))));
  const b2 = assertBlockattn(r2, { blocks: 3 });
  assertAll(b2, true, 'memory', `second request: ${JSON.stringify(b2)}`);
  assert.deepEqual(b2.blocks.map((b) => b.id), b1.blocks.map((b) => b.id), 'same texts, same block ids');
  assert.deepEqual(b2.blocks.map((b) => b.tokens), b1.blocks.map((b) => b.tokens), 'same texts, same token counts');
  assert.equal(r2.choices[0].message.content, r1.choices[0].message.content, 'reused KV gives the same greedy answer');
  assert.equal(r2.usage.prompt_tokens, r1.usage.prompt_tokens, 'same prompt, same prompt_tokens');

  const order = [2, 0, 1];
  const r3 = await client.chat.completions.create(chat(order.map((i) => ({ text: texts[i] }))));
  const b3 = assertBlockattn(r3, { blocks: 3 });
  assertAll(b3, true, 'memory', `another order: ${JSON.stringify(b3)}`);
  assert.deepEqual(b3.blocks.map((b) => b.id), order.map((i) => b1.blocks[i].id), 'ids follow the texts');

  const after = await scrape(server);
  const hits = metricSum(after, 'blockattn_block_cache_hits_total', { tier: 'memory' }) -
    metricSum(before, 'blockattn_block_cache_hits_total', { tier: 'memory' });
  assert.equal(hits, 6, 'blockattn_block_cache_hits_total{tier="memory"} rose by 3 + 3');
  const misses = metricSum(after, 'blockattn_block_cache_misses_total') -
    metricSum(before, 'blockattn_block_cache_misses_total');
  assert.ok(misses >= 3, `blockattn_block_cache_misses_total rose by at least 3 (got ${misses})`);
  assert.ok(metricSum(after, 'blockattn_block_cache_bytes', { tier: 'memory' }) > 0,
    'blockattn_block_cache_bytes{tier="memory"} > 0 with cached blocks');
});

test('blocks: usage.prompt_tokens includes the blocks\' tokens', async () => {
  const client = await server.openai();
  const texts = [uniqueDoc('Elm'), uniqueDoc('Fir')];
  const withBlocks = await client.chat.completions.create(chat(texts.map((text) => ({ text }))));
  const without = await client.chat.completions.create(chat(undefined));
  const ba = assertBlockattn(withBlocks, { blocks: 2 });
  const blockTokens = ba.blocks.reduce((s, b) => s + b.tokens, 0);
  assert.ok(withBlocks.usage.prompt_tokens >= without.usage.prompt_tokens + blockTokens,
    `prompt_tokens ${withBlocks.usage.prompt_tokens} ≥ ${without.usage.prompt_tokens} (no blocks) + ${blockTokens} (blocks)`);
});

test('blocks: completions take blocks too; streaming carries blockattn on the final and the usage chunk', async () => {
  const client = await server.openai();
  const texts = [uniqueDoc('Hazel'), uniqueDoc('Ivy')];
  const req = {
    model: server.modelId,
    prompt: 'The access code of the Hazel archive is',
    max_tokens: 8,
    temperature: 0,
    blocks: texts.map((text) => ({ text })),
  };
  const full = await client.completions.create(req);
  assertCompletion(full, { chat: false, modelId: server.modelId, maxTokens: 8 });
  assertAll(assertBlockattn(full, { blocks: 2 }), false, null, JSON.stringify(full.blockattn));

  const s = await postStream(server, '/v1/completions', { ...req, stream: true, stream_options: { include_usage: true } });
  assert.equal(s.status, 200, s.raw);
  assert.ok(s.done, 'ends with [DONE]');
  assert.equal(streamedText(s.chunks), full.choices[0].text, 'streamed text vs non-streamed text');
  const final = s.chunks.find((c) => c.choices?.[0]?.finish_reason);
  assert.ok(final, `a chunk with finish_reason: ${s.raw.slice(-1000)}`);
  assertAll(assertBlockattn(final, { blocks: 2 }), true, 'memory', `final chunk: ${JSON.stringify(final)}`);
  const usage = s.chunks[s.chunks.length - 1];
  assert.deepEqual(usage.choices, [], `usage chunk: ${JSON.stringify(usage)}`);
  assertAll(assertBlockattn(usage, { blocks: 2 }), true, 'memory', `usage chunk: ${JSON.stringify(usage)}`);

  const cs = await postStream(server, '/v1/chat/completions', { ...chat(texts.map((text) => ({ text }))), stream: true });
  const cfinal = cs.chunks.find((c) => c.choices?.[0]?.finish_reason);
  assert.ok(cfinal, `chat: a chunk with finish_reason: ${cs.raw.slice(-1000)}`);
  assertAll(assertBlockattn(cfinal, { blocks: 2 }), true, 'memory', `chat final chunk: ${JSON.stringify(cfinal)}`);
});

test('attention: "full" is reported, and gives an answer over the same blocks', async () => {
  const client = await server.openai();
  const texts = [uniqueDoc('Juniper'), uniqueDoc('Larch')];
  const r = await client.chat.completions.create(chat(texts.map((text) => ({ text })), { attention: 'full' }));
  assertCompletion(r, { chat: true, modelId: server.modelId, maxTokens: 12 });
  assertBlockattn(r, { attention: 'full' });
  const b = await client.chat.completions.create(chat(texts.map((text) => ({ text })), { attention: 'block' }));
  assertBlockattn(b, { attention: 'block', blocks: 2 });
});

test('segment: {"max_tokens": N} cuts a text block with the segmenter; the pieces are reused next time', async () => {
  const client = await server.openai();
  const text = `${uniqueDoc('Maple')}\n\n${LONG_TEXT}`;
  const r1 = await client.chat.completions.create(chat([{ text }], { segment: { max_tokens: 48 } }));
  const b1 = assertBlockattn(r1);
  assert.ok(b1.blocks.length >= 2, `a ${text.length}-character block cut at 48 tokens gives ≥ 2 blocks: ${JSON.stringify(b1)}`);
  assertAll(b1, false, null, JSON.stringify(b1));
  const r2 = await client.chat.completions.create(chat([{ text }], { segment: { max_tokens: 48 } }));
  const b2 = assertBlockattn(r2, { blocks: b1.blocks.length });
  assertAll(b2, true, 'memory', JSON.stringify(b2));
  assert.deepEqual(b2.blocks.map((b) => b.id), b1.blocks.map((b) => b.id));
});

test('/v1/blocks: register, reuse, use by id, stats, delete, then block_not_found', async () => {
  const client = await server.openai();
  const texts = [uniqueDoc('Oak'), uniqueDoc('Pine')];
  const stats0 = await server.get('/v1/blocks/stats');
  assert.equal(stats0.status, 200, stats0.text);

  const reg = await server.post('/v1/blocks', { blocks: texts.map((text) => ({ text })) });
  assert.equal(reg.status, 200, reg.text);
  assert.equal(reg.json.object, 'list', reg.text);
  assert.equal(reg.json.data.length, 2, reg.text);
  for (const d of reg.json.data) {
    assert.match(d.id, BLOCK_ID, reg.text);
    assert.equal(d.object, 'block', reg.text);
    assert.ok(Number.isInteger(d.tokens) && d.tokens > 0, reg.text);
    assert.equal(d.reused, false, `newly registered: ${reg.text}`);
    assert.equal(d.tier, null, `newly registered: ${reg.text}`);
  }
  const ids = reg.json.data.map((d) => d.id);
  assert.notEqual(ids[0], ids[1], 'different texts, different ids');

  const again = await server.post('/v1/blocks', { blocks: texts.map((text) => ({ text })) });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json.data.map((d) => d.id), ids, 'registering the same texts gives the same ids');
  for (const d of again.json.data) {
    assert.equal(d.reused, true, again.text);
    assert.equal(d.tier, 'memory', again.text);
  }

  const stats1 = await server.get('/v1/blocks/stats');
  assert.equal(stats1.status, 200, stats1.text);
  const s = stats1.json;
  for (const k of ['entries', 'bytes', 'hits', 'misses']) {
    assert.ok(Number.isInteger(s.memory?.[k]) && s.memory[k] >= 0, `stats.memory.${k}: ${stats1.text}`);
  }
  assert.ok(Number.isInteger(s.registered), stats1.text);
  assert.equal(s.writes_dropped, 0, `no write-behind entry dropped: ${stats1.text}`);
  assert.ok(s.registered >= stats0.json.registered + 2, `registered rose by 2: ${stats0.text} → ${stats1.text}`);
  assert.ok(s.memory.entries >= 2 && s.memory.bytes > 0, stats1.text);

  // by id
  const byId = await client.chat.completions.create(chat(ids.map((id) => ({ id }))));
  assertCompletion(byId, { chat: true, modelId: server.modelId, maxTokens: 12 });
  const ba = assertBlockattn(byId, { blocks: 2 });
  assert.deepEqual(ba.blocks.map((b) => b.id), ids);
  assertAll(ba, true, 'memory', JSON.stringify(ba));
  // by text: the registered KV answers, same ids
  const byText = await client.chat.completions.create(chat(texts.map((text) => ({ text }))));
  const bt = assertBlockattn(byText, { blocks: 2 });
  assert.deepEqual(bt.blocks.map((b) => b.id), ids, 'a text block has the id its registration returned');
  assertAll(bt, true, 'memory', JSON.stringify(bt));
  assert.equal(byText.choices[0].message.content, byId.choices[0].message.content, 'by id == by text');
  // mixed, reordered
  const mixed = await client.chat.completions.create(chat([{ text: texts[1] }, { id: ids[0] }]));
  assert.deepEqual(assertBlockattn(mixed, { blocks: 2 }).blocks.map((b) => b.id), [ids[1], ids[0]]);

  const del = await server.delete(`/v1/blocks/${ids[0]}`);
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json, { id: ids[0], object: 'block', deleted: true }, del.text);
  const stats2 = await server.get('/v1/blocks/stats');
  assert.equal(stats2.json.registered, s.registered - 1, `registered after delete: ${stats2.text}`);

  const gone = await server.post('/v1/chat/completions', chat([{ id: ids[0] }]));
  assertError(gone, 400, 'invalid_request_error', { code: 'block_not_found' });
  // (the error type of a 404 is checked in errors.test.mjs)
  const delAgain = await server.delete(`/v1/blocks/${ids[0]}`);
  assertError(delAgain, 404);
  const unknown = await server.delete(`/v1/blocks/blk_${'0'.repeat(32)}`);
  assertError(unknown, 404);

  const still = await client.chat.completions.create(chat([{ id: ids[1] }]));
  assertAll(assertBlockattn(still, { blocks: 1 }), true, 'memory', 'the other registered block is still there');
});

test('/v1/segment: the pieces reproduce the input byte for byte and respect max_tokens', async () => {
  const input = `${LONG_TEXT}\n`;
  const bytes = Buffer.from(input, 'utf8');
  for (const body of [
    { text: input, max_tokens: 32 },
    { text: input, max_tokens: 64, method: 'learned' },
    { text: input, max_tokens: 20, method: 'fixed' },
  ]) {
    const res = await server.post('/v1/segment', body);
    const ctx = `${JSON.stringify({ ...body, text: '…' })}: ${res.text.slice(0, 600)}`;
    assert.equal(res.status, 200, ctx);
    assert.equal(res.json.object, 'list', ctx);
    const data = res.json.data;
    assert.ok(Array.isArray(data) && data.length >= 2, `≥ 2 pieces: ${ctx}`);
    assert.equal(data.map((d) => d.text).join(''), input, `the texts concatenated are the input: ${ctx}`);
    let at = 0;
    for (const d of data) {
      assert.equal(d.start, at, `start of a piece is the end of the one before: ${ctx}`);
      assert.ok(d.end > d.start, ctx);
      assert.equal(bytes.subarray(d.start, d.end).toString('utf8'), d.text, `start/end are byte offsets: ${ctx}`);
      assert.ok(Number.isInteger(d.tokens) && d.tokens > 0, ctx);
      assert.ok(d.tokens <= body.max_tokens, `tokens ${d.tokens} ≤ max_tokens ${body.max_tokens}: ${ctx}`);
      at = d.end;
    }
    assert.equal(at, bytes.length, ctx);
  }
});
