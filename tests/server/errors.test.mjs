// Bad input, one request at a time, against a server with the default limits: the status, the
// OpenAI error object ({"error":{"message","type","param","code"}}) and, after each, that /health
// is still 200 and a normal request still works.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, useServer } from './server.mjs';

const server = useServer({ name: 'errors' });
const CONTEXT = 4096; // models/blockattn-10m: max_position_embeddings

const chat = (extra = {}) => ({
  model: server.modelId,
  messages: [{ role: 'user', content: 'Where is the Walnut archive?' }],
  max_tokens: 4,
  temperature: 0,
  ...extra,
});
const completion = (extra = {}) => ({
  model: server.modelId, prompt: 'The river Lune', max_tokens: 4, temperature: 0, ...extra,
});
const CHAT = '/v1/chat/completions';
const COMPLETIONS = '/v1/completions';
const INVALID = 'invalid_request_error';

// A text far longer than the context: digits are split, so every word is several tokens.
const tooLong = () => Array.from({ length: CONTEXT + 500 }, (_, i) => `w${i}`).join(' ');

afterEach(async () => {
  const h = await server.get('/health');
  assert.equal(h.status, 200, `/health after the bad request: ${h.status} ${h.text}`);
  const ok = await server.post(COMPLETIONS, completion({ max_tokens: 2 }));
  assert.equal(ok.status, 200, `a normal request after the bad one: ${ok.status} ${ok.text.slice(0, 400)}`);
  assert.equal(typeof ok.json.choices[0].text, 'string', ok.text);
});

test('malformed JSON → 400 invalid_request_error (chat, completions, blocks, segment, tokenize)', async () => {
  for (const p of [CHAT, COMPLETIONS, '/v1/blocks', '/v1/segment', '/tokenize', '/detokenize']) {
    assertError(await server.post(p, '{"model": "blockattn-10m", "messages": [{"role": "user",'), 400, INVALID);
    assertError(await server.post(p, 'not json at all'), 400, INVALID);
    assertError(await server.post(p, ''), 400, INVALID);
  }
  assertError(await server.post(CHAT, '[1, 2, 3]'), 400, INVALID);
  assertError(await server.post(CHAT, '"a string"'), 400, INVALID);
});

const WRONG_TYPES = [
  [CHAT, { messages: 'hi' }, 'messages'],
  [CHAT, { max_tokens: 'ten' }, 'max_tokens'],
  [CHAT, { max_tokens: 4.5 }, 'max_tokens'],
  [CHAT, { max_completion_tokens: '3' }, 'max_completion_tokens'],
  [CHAT, { temperature: 'hot' }, 'temperature'],
  [CHAT, { top_p: 'x' }, 'top_p'],
  [CHAT, { top_k: 'many' }, 'top_k'],
  [CHAT, { seed: 'abc' }, 'seed'],
  [CHAT, { stream: 'yes' }, 'stream'],
  [CHAT, { stop: 5 }, 'stop'],
  [CHAT, { stop: [1, 2] }, 'stop'],
  [CHAT, { n: 'one' }, 'n'],
  [CHAT, { model: 7 }, 'model'],
  [CHAT, { user: 7 }, 'user'],
  [CHAT, { logprobs: 'yes' }, 'logprobs'],
  [CHAT, { blocks: 'x' }, 'blocks'],
  [CHAT, { attention: 1 }, 'attention'],
  [CHAT, { segment: 'small' }, 'segment'],
  [CHAT, { stream_options: 'usage' }, 'stream_options'],
  [COMPLETIONS, { prompt: 42 }, 'prompt'],
  [COMPLETIONS, { logprobs: 'two' }, 'logprobs'],
];
// param names the field, or an element / member of it ("stop[0]", "segment.max_tokens").
const names = (field) => new RegExp(`^${field}($|\\[|\\.)`);
for (const [p, field, param] of WRONG_TYPES) {
  test(`wrong type ${p} ${JSON.stringify(field)} → 400, param "${param}"`, async () => {
    const body = p === CHAT ? chat(field) : completion(field);
    assertError(await server.post(p, body), 400, INVALID, { param: names(param) });
  });
}

test('wrong type inside messages → 400, param names messages', async () => {
  for (const messages of [
    [{ role: 'user', content: 42 }],
    [{ role: 'user', content: [{ type: 'text', text: 5 }] }],
    [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }],
    [{ role: 7, content: 'hi' }],
    [{ content: 'hi' }],
    ['hi'],
  ]) {
    assertError(await server.post(CHAT, chat({ messages })), 400, INVALID, { param: names('messages') });
  }
});

test('unknown role → 400', async () => {
  assertError(await server.post(CHAT, chat({ messages: [{ role: 'wizard', content: 'hi' }] })), 400, INVALID);
});

test('unknown model → 404 model_not_found', async () => {
  assertError(await server.post(CHAT, chat({ model: 'gpt-4o' })), 404, undefined, { code: 'model_not_found' });
  assertError(await server.post(COMPLETIONS, completion({ model: 'no-such-model' })), 404, undefined,
    { code: 'model_not_found' });
});

test('body over --max-body-mb (default 16) → 413', async () => {
  const big = 'a'.repeat(17 * 1024 * 1024);
  const res = await server.post(CHAT, chat({ messages: [{ role: 'user', content: big }] }));
  assertError(res, 413, INVALID);
});

test('invalid UTF-8 in a message → 400', async () => {
  const head = Buffer.from(`{"model":"${server.modelId}","max_tokens":4,"messages":[{"role":"user","content":"bad `);
  const tail = Buffer.from(' bytes"}]}');
  for (const bad of [[0xff, 0xfe], [0xc0, 0xaf], [0xe2, 0x82], [0xed, 0xa0, 0x80]]) {
    const res = await server.post(CHAT, Buffer.concat([head, Buffer.from(bad), tail]));
    assertError(res, 400, INVALID);
  }
  const res = await server.post(COMPLETIONS,
    Buffer.concat([Buffer.from(`{"model":"${server.modelId}","max_tokens":4,"prompt":"x`), Buffer.from([0xff]), Buffer.from('"}')]));
  assertError(res, 400, INVALID);
  // a lone surrogate, escaped
  assertError(await server.post(CHAT,
    `{"model":"${server.modelId}","max_tokens":4,"messages":[{"role":"user","content":"\\udc00"}]}`), 400, INVALID);
});

test('empty or missing messages / prompt → 400', async () => {
  assertError(await server.post(CHAT, chat({ messages: [] })), 400, INVALID, { param: 'messages' });
  const { messages, ...noMessages } = chat();
  assert.ok(messages);
  assertError(await server.post(CHAT, noMessages), 400, INVALID, { param: 'messages' });
  assertError(await server.post(COMPLETIONS, completion({ prompt: '' })), 400, INVALID, { param: 'prompt' });
  const { prompt, ...noPrompt } = completion();
  assert.ok(prompt);
  assertError(await server.post(COMPLETIONS, noPrompt), 400, INVALID, { param: 'prompt' });
});

test('prompt longer than the context → 400 context_length_exceeded (no truncation)', async () => {
  const text = tooLong();
  assertError(await server.post(COMPLETIONS, completion({ prompt: text })), 400, INVALID,
    { code: 'context_length_exceeded' });
  assertError(await server.post(CHAT, chat({ messages: [{ role: 'user', content: text }] })), 400, INVALID,
    { code: 'context_length_exceeded' });
  // blocks count: two blocks that fit alone but not together
  const half = Array.from({ length: 900 }, (_, i) => `w${i}`).join(' ');
  const tok = await server.post('/tokenize', { content: half });
  assert.equal(tok.status, 200, tok.text);
  const n = tok.json.tokens.length;
  assert.ok(n < CONTEXT && 2 * n > CONTEXT, `a block of ${n} tokens: fits alone, not twice`);
  assertError(await server.post(CHAT, chat({ blocks: [{ text: half }, { text: `${half} again` }] })), 400,
    INVALID, { code: 'context_length_exceeded' });
});

test('max_tokens ≤ 0 or larger than the context → 400', async () => {
  for (const v of [0, -1, CONTEXT + 1, 1_000_000]) {
    assertError(await server.post(CHAT, chat({ max_tokens: v })), 400, INVALID, { param: 'max_tokens' });
    assertError(await server.post(COMPLETIONS, completion({ max_tokens: v })), 400, INVALID, { param: 'max_tokens' });
  }
  assertError(await server.post(CHAT, chat({ max_tokens: undefined, max_completion_tokens: 0 })), 400, INVALID,
    { param: 'max_completion_tokens' });
});

test('temperature negative → 400', async () => {
  assertError(await server.post(CHAT, chat({ temperature: -0.5 })), 400, INVALID, { param: 'temperature' });
  assertError(await server.post(COMPLETIONS, completion({ temperature: -1 })), 400, INVALID, { param: 'temperature' });
});

// 1e999 is valid JSON whose value does not fit a double (±inf once parsed). The server may refuse
// it while parsing (param null) or when it checks the field (param names it); never a 500.
const withRaw = (body, value) => JSON.stringify(body).replace('"__RAW__"', value);
const fieldOrNull = (field) => new RegExp(`^(${field}|null)$`);

test('temperature not finite (1e999, -1e999 as raw JSON) → 400', async () => {
  assertError(await server.post(CHAT, withRaw(chat({ temperature: '__RAW__' }), '1e999')), 400, INVALID,
    { param: fieldOrNull('temperature') });
  assertError(await server.post(COMPLETIONS, withRaw(completion({ temperature: '__RAW__' }), '1e999')), 400,
    INVALID, { param: fieldOrNull('temperature') });
  assertError(await server.post(CHAT, withRaw(chat({ temperature: '__RAW__' }), '-1e999')), 400, INVALID,
    { param: fieldOrNull('temperature') });
});

test('top_p ≤ 0 or > 1 → 400; top_k < 0 → 400', async () => {
  for (const v of [0, -0.1, 1.0001, 2]) {
    assertError(await server.post(CHAT, chat({ top_p: v })), 400, INVALID, { param: 'top_p' });
  }
  assertError(await server.post(CHAT, chat({ top_k: -1 })), 400, INVALID, { param: 'top_k' });
  assertError(await server.post(COMPLETIONS, completion({ top_k: -5 })), 400, INVALID, { param: 'top_k' });
});

test('numbers too large for a double anywhere (top_p, max_tokens, seed as 1e999) → 400, not 500', async () => {
  assertError(await server.post(CHAT, withRaw(chat({ top_p: '__RAW__' }), '1e999')), 400, INVALID, { param: fieldOrNull('top_p') });
  assertError(await server.post(CHAT, withRaw(chat({ max_tokens: '__RAW__' }), '1e999')), 400, INVALID,
    { param: fieldOrNull('max_tokens') });
  assertError(await server.post(CHAT, withRaw(chat({ seed: '__RAW__' }), '1e999')), 400, INVALID, { param: fieldOrNull('seed') });
  assertError(await server.post(CHAT, withRaw(chat({ user: '__RAW__' }), '1e999')), 400, INVALID, { param: fieldOrNull('user') });
});

test('n ≠ 1 → 400', async () => {
  for (const n of [0, 2, 5]) {
    assertError(await server.post(CHAT, chat({ n })), 400, INVALID, { param: 'n' });
    assertError(await server.post(COMPLETIONS, completion({ n })), 400, INVALID, { param: 'n' });
  }
});

test('stop with more than 4 strings → 400; logprobs out of range → 400', async () => {
  assertError(await server.post(CHAT, chat({ stop: ['a', 'b', 'c', 'd', 'e'] })), 400, INVALID, { param: 'stop' });
  assertError(await server.post(CHAT, chat({ logprobs: true, top_logprobs: 21 })), 400, INVALID,
    { param: 'top_logprobs' });
  assertError(await server.post(CHAT, chat({ logprobs: true, top_logprobs: -1 })), 400, INVALID,
    { param: 'top_logprobs' });
  assertError(await server.post(COMPLETIONS, completion({ logprobs: 6 })), 400, INVALID, { param: 'logprobs' });
  assertError(await server.post(COMPLETIONS, completion({ logprobs: -1 })), 400, INVALID, { param: 'logprobs' });
});

test('bad block API fields → 400', async () => {
  assertError(await server.post(CHAT, chat({ attention: 'sparse' })), 400, INVALID, { param: 'attention' });
  assertError(await server.post(CHAT, chat({ blocks: [{}] })), 400, INVALID, { param: names('blocks') });
  assertError(await server.post(CHAT, chat({ blocks: [{ text: 5 }] })), 400, INVALID, { param: names('blocks') });
  assertError(await server.post(CHAT, chat({ segment: { max_tokens: 0 } })), 400, INVALID, { param: names('segment') });
  assertError(await server.post('/v1/blocks', { blocks: 'x' }), 400, INVALID, { param: names('blocks') });
  assertError(await server.post('/v1/blocks', {}), 400, INVALID, { param: names('blocks') });
});

test('a block that is a bare string, not {"text"} / {"id"} → 400', async () => {
  assertError(await server.post(CHAT, chat({ blocks: ['just a string'] })), 400, INVALID, { param: names('blocks') });
});

test('unknown block id → 400 block_not_found', async () => {
  assertError(await server.post(CHAT, chat({ blocks: [{ id: `blk_${'ab'.repeat(16)}` }] })), 400, INVALID,
    { code: 'block_not_found' });
  assertError(await server.post(COMPLETIONS, completion({ blocks: [{ id: 'blk_nothex' }] })), 400, INVALID,
    { code: 'block_not_found' });
});

test('more blocks than --max-blocks (default 256) → 400 too_many_blocks', async () => {
  const blocks = Array.from({ length: 257 }, (_, i) => ({ text: `b${i}` }));
  assertError(await server.post(CHAT, chat({ blocks })), 400, INVALID, { code: 'too_many_blocks' });
  assertError(await server.post('/v1/blocks', { blocks }), 400, INVALID, { code: 'too_many_blocks' });
});

test('/v1/segment, /tokenize, /detokenize: bad fields → 400', async () => {
  assertError(await server.post('/v1/segment', { max_tokens: 32 }), 400, INVALID, { param: 'text' });
  assertError(await server.post('/v1/segment', { text: 'abc', max_tokens: 0 }), 400, INVALID, { param: 'max_tokens' });
  assertError(await server.post('/v1/segment', { text: 'abc', max_tokens: 'x' }), 400, INVALID, { param: 'max_tokens' });
  assertError(await server.post('/v1/segment', { text: 'abc', max_tokens: 32, method: 'astrology' }), 400, INVALID,
    { param: 'method' });
  assertError(await server.post('/tokenize', {}), 400, INVALID, { param: 'content' });
  assertError(await server.post('/tokenize', { content: 5 }), 400, INVALID, { param: 'content' });
  assertError(await server.post('/detokenize', { tokens: 'abc' }), 400, INVALID, { param: 'tokens' });
  assertError(await server.post('/detokenize', { tokens: ['a'] }), 400, INVALID, { param: names('tokens') });
  assertError(await server.post('/detokenize', { tokens: [-1] }), 400, INVALID, { param: names('tokens') });
  assertError(await server.post('/detokenize', { tokens: [1_000_000] }), 400, INVALID, { param: names('tokens') });
});

test('unknown path → 404 with an error object', async () => {
  assertError(await server.get('/v1/nope'), 404);
  assertError(await server.post('/v1/chat/complete', chat()), 404);
  assertError(await server.get('/'), 404);
  assertError(await server.get('/v1/blocks/stats/extra'), 404);
});

// OpenAI answers every 404 (unknown URL, unknown model, unknown object) with type
// invalid_request_error; clients that switch on error.type expect that.
test('404 errors have type invalid_request_error, as OpenAI\'s', async () => {
  assertError(await server.get('/v1/nope'), 404, INVALID);
  assertError(await server.delete(`/v1/blocks/blk_${'0'.repeat(32)}`), 404, INVALID);
  assertError(await server.post(CHAT, chat({ model: 'gpt-4o' })), 404, INVALID, { code: 'model_not_found' });
});
