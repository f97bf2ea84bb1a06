// The OpenAI-compatible surface through the official openai SDK (chat, completions, streaming,
// sampling, stop, logprobs) plus /health, /v1/models, /tokenize and /detokenize.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DOCS, QUESTION, assertBlockattn, assertCompletion, assertUsage, postStream, streamedText, useServer,
} from './server.mjs';

const server = useServer({ name: 'sdk' });
const execFileP = promisify(execFile);

const CHAT = () => ({
  model: server.modelId,
  messages: [
    { role: 'system', content: 'Answer from the notes.' },
    { role: 'user', content: `${DOCS.walnut}\n\n${QUESTION}` },
  ],
  max_tokens: 16,
  temperature: 0,
});
const COMPLETION = () => ({
  model: server.modelId,
  prompt: 'The river Lune floods the lower meadow every March. The ferry',
  max_tokens: 16,
  temperature: 0,
});

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

// Checks a streamed chat/completion: chunk objects, one id, one finish_reason. Returns the chunk
// that carries the finish_reason.
function assertChunks(chunks, { chat, usage }) {
  const ctx = JSON.stringify(chunks).slice(0, 1500);
  assert.ok(chunks.length >= 2, `at least two chunks: ${ctx}`);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1, `one id across the chunks: ${ctx}`);
  for (const c of chunks) {
    assert.equal(c.object, chat ? 'chat.completion.chunk' : 'text_completion', `chunk.object: ${ctx}`);
    assert.equal(c.model, server.modelId, `chunk.model: ${ctx}`);
    assert.ok(Number.isInteger(c.created), `chunk.created: ${ctx}`);
  }
  const finals = chunks.filter((c) => c.choices?.[0]?.finish_reason);
  assert.equal(finals.length, 1, `exactly one chunk with a finish_reason: ${ctx}`);
  const final = finals[0];
  assert.ok(['stop', 'length'].includes(final.choices[0].finish_reason), `finish_reason: ${ctx}`);
  if (usage) {
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, [], `include_usage: the last chunk has choices []: ${ctx}`);
    assertUsage(last.usage, `(usage chunk) ${ctx}`);
    assert.ok(chunks.indexOf(final) < chunks.length - 1, `the usage chunk follows the final chunk: ${ctx}`);
    for (const c of chunks.slice(0, -1)) assert.ok(!c.usage, `usage only on the last chunk: ${ctx}`);
  } else {
    for (const c of chunks) assert.ok(!c.usage, `no usage without stream_options.include_usage: ${ctx}`);
  }
  return final;
}

test('GET /health is 200 {"status":"ok"}', async () => {
  const res = await server.get('/health');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json?.status, 'ok', res.text);
});

test('GET /v1/models lists the model directory\'s name', async () => {
  const res = await server.get('/v1/models');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.object, 'list', res.text);
  assert.equal(res.json.data.length, 1, res.text);
  const m = res.json.data[0];
  assert.equal(m.id, server.modelId, res.text); // the basename of --model (blockattn-10m)
  assert.equal(m.object, 'model', res.text);
  assert.ok(Number.isInteger(m.created), res.text);
  assert.equal(m.owned_by, 'blockattn', res.text);

  const client = await server.openai();
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, [server.modelId]);
});

test('chat: streamed text equals the non-streamed text (greedy), usage and blockattn agree', async () => {
  const client = await server.openai();
  const full = await client.chat.completions.create(CHAT());
  const choice = assertCompletion(full, { chat: true, modelId: server.modelId, maxTokens: 16 });
  assertBlockattn(full, { blocks: 0 });

  const chunks = await collect(await client.chat.completions.create({
    ...CHAT(), stream: true, stream_options: { include_usage: true },
  }));
  const final = assertChunks(chunks, { chat: true, usage: true });
  assert.equal(streamedText(chunks), choice.message.content, 'streamed text vs non-streamed text');
  assert.equal(final.choices[0].finish_reason, choice.finish_reason, 'finish_reason');
  assert.ok(chunks.some((c) => c.choices?.[0]?.delta?.role === 'assistant'),
    'a chunk carries delta.role "assistant"');
  assert.deepEqual(chunks[chunks.length - 1].usage, full.usage, 'streamed usage vs non-streamed usage');
  assertBlockattn(final, { blocks: 0 });
  assertBlockattn(chunks[chunks.length - 1], { blocks: 0 });
});

test('chat: streaming without include_usage has no usage; the stream ends with data: [DONE]', async () => {
  const client = await server.openai();
  const chunks = await collect(await client.chat.completions.create({ ...CHAT(), stream: true }));
  const final = assertChunks(chunks, { chat: true, usage: false });
  assertBlockattn(final, { blocks: 0 });

  const res = await postStream(server, '/v1/chat/completions', { ...CHAT(), stream: true });
  assert.equal(res.status, 200, res.raw);
  assert.match(res.headers.get('content-type') || '', /^text\/event-stream/, 'content-type');
  assert.ok(res.done, `the last event is [DONE]: ${res.raw.slice(-300)}`);
  assert.ok(res.raw.endsWith('data: [DONE]\n\n'), `ends with "data: [DONE]\\n\\n": ${JSON.stringify(res.raw.slice(-60))}`);
  assert.ok(res.raw.startsWith('data: '), `starts with "data: ": ${JSON.stringify(res.raw.slice(0, 60))}`);
  assert.equal(res.events.filter((e) => e === '[DONE]').length, 1, 'one [DONE]');
  assert.equal(streamedText(res.chunks), streamedText(chunks), 'raw SSE text vs SDK text');
});

test('completions: streamed text equals the non-streamed text (greedy)', async () => {
  const client = await server.openai();
  const full = await client.completions.create(COMPLETION());
  const choice = assertCompletion(full, { chat: false, modelId: server.modelId, maxTokens: 16 });
  assertBlockattn(full, { blocks: 0 });
  assert.ok(choice.text.length > 0, 'a continuation of a plain sentence is not empty');

  const chunks = await collect(await client.completions.create({
    ...COMPLETION(), stream: true, stream_options: { include_usage: true },
  }));
  const final = assertChunks(chunks, { chat: false, usage: true });
  assert.equal(streamedText(chunks), choice.text, 'streamed text vs non-streamed text');
  assert.equal(final.choices[0].finish_reason, choice.finish_reason);
  assert.deepEqual(chunks[chunks.length - 1].usage, full.usage, 'streamed usage vs non-streamed usage');
  assertBlockattn(final, { blocks: 0 });

  const plain = await collect(await client.completions.create({ ...COMPLETION(), stream: true }));
  assertChunks(plain, { chat: false, usage: false });
  assert.equal(streamedText(plain), choice.text);
});

test('seed: temperature > 0 with the same seed gives the same text (chat and completions)', async () => {
  const client = await server.openai();
  const sampled = { temperature: 1.2, top_p: 0.95, top_k: 50, seed: 1234, max_tokens: 24 };
  const a = await client.chat.completions.create({ ...CHAT(), ...sampled });
  const b = await client.chat.completions.create({ ...CHAT(), ...sampled });
  assertCompletion(a, { chat: true, modelId: server.modelId, maxTokens: 24 });
  assert.equal(b.choices[0].message.content, a.choices[0].message.content, 'chat, same seed');

  const s = await collect(await client.chat.completions.create({ ...CHAT(), ...sampled, stream: true }));
  assert.equal(streamedText(s), a.choices[0].message.content, 'chat streamed, same seed');

  const c = await client.completions.create({ ...COMPLETION(), ...sampled });
  const d = await client.completions.create({ ...COMPLETION(), ...sampled });
  assert.equal(d.choices[0].text, c.choices[0].text, 'completions, same seed');
});

test('chat: content as an array of text parts equals the same string content', async () => {
  const client = await server.openai();
  const asString = await client.chat.completions.create(CHAT());
  const req = CHAT();
  req.messages[1].content = [
    { type: 'text', text: `${DOCS.walnut}\n\n` },
    { type: 'text', text: QUESTION },
  ];
  const asParts = await client.chat.completions.create(req);
  assertCompletion(asParts, { chat: true, modelId: server.modelId });
  assert.equal(asParts.choices[0].message.content, asString.choices[0].message.content);
  assert.equal(asParts.usage.prompt_tokens, asString.usage.prompt_tokens);
});

test('chat: a multi-turn conversation (system, user, assistant, user), n=1 and user accepted', async () => {
  const client = await server.openai();
  const r = await client.chat.completions.create({
    model: server.modelId,
    messages: [
      { role: 'system', content: 'Answer from the notes.' },
      { role: 'user', content: `${DOCS.river}\n\nWhen does the ferry stop?` },
      { role: 'assistant', content: 'When the water reaches the third post.' },
      { role: 'user', content: 'Where does the ferryman live?' },
    ],
    max_tokens: 12,
    temperature: 0,
    n: 1,
    user: 'test-user-1',
  });
  assertCompletion(r, { chat: true, modelId: server.modelId, maxTokens: 12 });
});

test('max_tokens / max_completion_tokens bound the completion; length is reported', async () => {
  const client = await server.openai();
  const one = await client.completions.create({ ...COMPLETION(), max_tokens: 1 });
  assertCompletion(one, { chat: false, modelId: server.modelId, maxTokens: 1 });
  const mct = await client.chat.completions.create({
    ...CHAT(), max_tokens: undefined, max_completion_tokens: 3,
  });
  assertCompletion(mct, { chat: true, modelId: server.modelId, maxTokens: 3 });
  const long = await client.completions.create({ ...COMPLETION(), max_tokens: 4 });
  const c = assertCompletion(long, { chat: false, modelId: server.modelId, maxTokens: 4 });
  if (c.finish_reason === 'stop') assert.ok(long.usage.completion_tokens <= 4);
  else assert.equal(long.usage.completion_tokens, 4);
});

test('stop: generation ends before the stop string, which is not returned (string and list)', async () => {
  const client = await server.openai();
  const base = await client.completions.create({ ...COMPLETION(), max_tokens: 24 });
  const text = base.choices[0].text;
  assert.ok(text.length >= 8, `need a continuation of ≥ 8 characters to pick a stop string from: ${JSON.stringify(text)}`);
  const mid = Math.floor(text.length / 2);
  const stop = text.slice(mid, mid + 3);
  const expected = text.slice(0, text.indexOf(stop));

  const r = await client.completions.create({ ...COMPLETION(), max_tokens: 24, stop });
  assert.equal(r.choices[0].text, expected, `stop ${JSON.stringify(stop)} in ${JSON.stringify(text)}`);
  assert.equal(r.choices[0].finish_reason, 'stop');

  const list = await client.completions.create({
    ...COMPLETION(), max_tokens: 24, stop: ['\u0001never', stop, 'zzzzqqq', '\u0002'],
  });
  assert.equal(list.choices[0].text, expected, 'stop given as a list of 4');
  assert.equal(list.choices[0].finish_reason, 'stop');

  const streamed = await collect(await client.completions.create({
    ...COMPLETION(), max_tokens: 24, stop, stream: true,
  }));
  assert.equal(streamedText(streamed), expected, 'streamed with stop');

  const chat = await client.chat.completions.create({ ...CHAT(), max_tokens: 24 });
  const answer = chat.choices[0].message.content;
  assert.ok(answer.length >= 2, `need a chat answer of ≥ 2 characters: ${JSON.stringify(answer)}`);
  const chatStop = answer.slice(1, 2);
  const chatStopped = await client.chat.completions.create({ ...CHAT(), max_tokens: 24, stop: chatStop });
  assert.equal(chatStopped.choices[0].message.content, answer.slice(0, answer.indexOf(chatStop)));
  assert.equal(chatStopped.choices[0].finish_reason, 'stop');
});

test('logprobs: chat (logprobs + top_logprobs) and completions (logprobs N)', async () => {
  const client = await server.openai();
  const chat = await client.chat.completions.create({ ...CHAT(), max_tokens: 6, logprobs: true, top_logprobs: 3 });
  const content = chat.choices[0].logprobs?.content;
  const ctx = JSON.stringify(chat).slice(0, 1500);
  assert.ok(Array.isArray(content) && content.length >= 1, `choices[0].logprobs.content: ${ctx}`);
  assert.ok(content.length <= chat.usage.completion_tokens, `one entry per generated token: ${ctx}`);
  for (const t of content) {
    assert.equal(typeof t.token, 'string', ctx);
    assert.ok(typeof t.logprob === 'number' && t.logprob <= 0, ctx);
    assert.ok(Array.isArray(t.top_logprobs) && t.top_logprobs.length === 3, `top_logprobs has 3 entries: ${ctx}`);
    for (const alt of t.top_logprobs) assert.ok(typeof alt.token === 'string' && alt.logprob <= 0, ctx);
    // greedy: the chosen token is the most likely one
    assert.ok(t.logprob >= t.top_logprobs[0].logprob - 1e-4, `greedy token is the top one: ${ctx}`);
  }
  const none = await client.chat.completions.create({ ...CHAT(), max_tokens: 4 });
  assert.ok(none.choices[0].logprobs == null, 'no logprobs unless asked');

  const comp = await client.completions.create({ ...COMPLETION(), max_tokens: 4, logprobs: 2 });
  const lp = comp.choices[0].logprobs;
  const cctx = JSON.stringify(comp).slice(0, 1500);
  assert.ok(lp && Array.isArray(lp.tokens) && Array.isArray(lp.token_logprobs) && Array.isArray(lp.top_logprobs),
    `choices[0].logprobs {tokens, token_logprobs, top_logprobs}: ${cctx}`);
  assert.equal(lp.tokens.length, comp.usage.completion_tokens, cctx);
  assert.equal(lp.token_logprobs.length, lp.tokens.length, cctx);
  assert.equal(lp.top_logprobs.length, lp.tokens.length, cctx);
  for (const v of lp.token_logprobs) assert.ok(typeof v === 'number' && v <= 0, cctx);
  for (const alts of lp.top_logprobs) {
    const n = Object.keys(alts).length;
    assert.ok(n >= 1 && n <= 2, `top_logprobs entries have ≤ 2 alternatives: ${cctx}`);
  }
  if (comp.choices[0].finish_reason === 'length') assert.equal(lp.tokens.join(''), comp.choices[0].text, cctx);
});

test('tokenize / detokenize round-trip (fetch and curl)', async () => {
  for (const content of [
    'Hello world, block attention!',
    'naïve café – 東京 🚀 tabs\tand\nnew lines',
    DOCS.walnut,
  ]) {
    const tok = await server.post('/tokenize', { content });
    assert.equal(tok.status, 200, tok.text);
    const { tokens } = tok.json;
    assert.ok(Array.isArray(tokens) && tokens.length > 0, tok.text);
    for (const t of tokens) assert.ok(Number.isInteger(t) && t >= 0, tok.text);
    const det = await server.post('/detokenize', { tokens });
    assert.equal(det.status, 200, det.text);
    assert.equal(det.json.content, content, `round trip of ${JSON.stringify(content)}`);
  }
  const { stdout } = await execFileP('curl', [
    '-sS', '--fail-with-body', '-H', 'Content-Type: application/json',
    '-d', JSON.stringify({ content: 'The access code is 48213.' }), server.url('/tokenize'),
  ]);
  const { tokens } = JSON.parse(stdout);
  const back = await execFileP('curl', [
    '-sS', '--fail-with-body', '-H', 'Content-Type: application/json',
    '-d', JSON.stringify({ tokens }), server.url('/detokenize'),
  ]);
  assert.equal(JSON.parse(back.stdout).content, 'The access code is 48213.');
});

test('the completion\'s prompt_tokens counts the prompt as /tokenize does (at least)', async () => {
  const client = await server.openai();
  const req = COMPLETION();
  const r = await client.completions.create(req);
  const tok = await server.post('/tokenize', { content: req.prompt });
  assert.ok(r.usage.prompt_tokens >= tok.json.tokens.length,
    `prompt_tokens ${r.usage.prompt_tokens} vs ${tok.json.tokens.length} tokens of the prompt`);
});

test('parallel: requests generating at once (--parallel 2) give the texts they give alone', async () => {
  const client = await server.openai();
  const prompts = [
    'The river Lune floods the lower meadow every March. The ferry',
    'To install a package on Debian, run',
    'The Walnut archive sits at the top of the north tower',
    'Visitors sign the ledger at the door. The code',
  ];
  const req = (prompt) => ({ model: server.modelId, prompt, max_tokens: 16, temperature: 0 });
  const alone = [];
  for (const p of prompts) alone.push((await client.completions.create(req(p))).choices[0].text);
  const together = await Promise.all(prompts.map((p) => client.completions.create(req(p))));
  assert.deepEqual(together.map((r) => r.choices[0].text), alone, 'concurrent greedy texts vs one at a time');
  const streams = await Promise.all(prompts.map(async (p) =>
    streamedText(await collect(await client.completions.create({ ...req(p), stream: true })))));
  assert.deepEqual(streams, alone, 'concurrent streams vs one at a time');
});
