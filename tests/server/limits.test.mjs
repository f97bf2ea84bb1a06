// The limits set on the command line: --max-body-mb, --max-blocks, --max-queue (queue full → 503
// with Retry-After). The server keeps serving afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DOCS, QUESTION, assertError, useServer } from './server.mjs';

const server = useServer({ name: 'limits', args: ['--max-body-mb', '1', '--max-blocks', '2', '--max-queue', '1'] });
const MiB = 1024 * 1024;

const chat = (extra = {}) => ({
  model: server.modelId,
  messages: [{ role: 'user', content: QUESTION }],
  max_tokens: 4,
  temperature: 0,
  ...extra,
});

// A valid JSON request padded with whitespace to `size` bytes.
const padded = (size) => {
  const json = JSON.stringify(chat());
  return json + ' '.repeat(Math.max(0, size - Buffer.byteLength(json)));
};

// POST with Transfer-Encoding: chunked (no Content-Length) over a raw socket; resolves with the
// status of the first response (the server refuses such bodies before reading them).
function postChunked(p, body) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1');
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      text += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) { sock.destroy(); resolve({ status: Number(m[1]), text }); }
    });
    sock.on('error', (e) => { if (!text) reject(e); });
    sock.on('close', () => { if (!/^HTTP/.test(text)) reject(new Error(`no response: ${text}`)); });
    sock.write(`POST ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n');
    const buf = Buffer.from(body);
    for (let i = 0; i < buf.length; i += 64 * 1024) {
      const part = buf.subarray(i, i + 64 * 1024);
      sock.write(`${part.length.toString(16)}\r\n`);
      sock.write(part);
      sock.write('\r\n');
    }
    sock.write('0\r\n\r\n');
  });
}

async function assertServing() {
  const h = await server.get('/health');
  assert.equal(h.status, 200, `/health: ${h.status} ${h.text}`);
  const ok = await server.post('/v1/chat/completions', chat());
  assert.equal(ok.status, 200, `a normal request: ${ok.status} ${ok.text.slice(0, 300)}`);
}

test('--max-body-mb 1: a 1.5 MiB body → 413 (Content-Length and chunked); 0.9 MiB is served', async () => {
  assertError(await server.post('/v1/chat/completions', padded(1.5 * MiB)), 413, 'invalid_request_error');
  assertError(await server.post('/v1/completions', padded(3 * MiB)), 413, 'invalid_request_error');
  const fits = await server.post('/v1/chat/completions', padded(0.9 * MiB));
  assert.equal(fits.status, 200, `0.9 MiB of valid JSON: ${fits.status} ${fits.text.slice(0, 300)}`);
  await assertServing();
  // Transfer-Encoding: chunked has no Content-Length to check up front: such bodies are refused
  // (411 Length Required) before they are read, so the limit holds anyway.
  const chunked = await postChunked('/v1/chat/completions', padded(1.5 * MiB));
  assert.equal(chunked.status, 411, chunked.text.slice(0, 300));
  await assertServing();
});

test('--max-blocks 2: three blocks → 400 too_many_blocks, two are served', async () => {
  const three = [{ text: DOCS.walnut }, { text: DOCS.river }, { text: DOCS.apt }];
  assertError(await server.post('/v1/chat/completions', chat({ blocks: three })), 400, 'invalid_request_error',
    { code: 'too_many_blocks' });
  assertError(await server.post('/v1/blocks', { blocks: three }), 400, 'invalid_request_error',
    { code: 'too_many_blocks' });
  const two = await server.post('/v1/chat/completions', chat({ blocks: three.slice(0, 2) }));
  assert.equal(two.status, 200, two.text.slice(0, 300));
  await assertServing();
});

test('--max-queue 1 with --parallel 2: a burst gets 503 with Retry-After for what does not fit', async () => {
  const long = `${DOCS.walnut} ${DOCS.river} ${DOCS.apt} `.repeat(4);
  const body = chat({ messages: [{ role: 'user', content: `${long}\n${QUESTION}` }], max_tokens: 24 });
  const burst = await Promise.all(Array.from({ length: 12 }, () => server.post('/v1/chat/completions', body)));
  const statuses = burst.map((r) => r.status);
  const busy = burst.filter((r) => r.status === 503);
  assert.ok(busy.length >= 1, `some of 12 simultaneous requests are refused (2 running + 1 queued): ${statuses}`);
  assert.ok(burst.filter((r) => r.status === 200).length >= 3, `at least 2 running + 1 queued are served: ${statuses}`);
  for (const r of burst) assert.ok(r.status === 200 || r.status === 503, `200 or 503 only: ${statuses}`);
  for (const r of busy) {
    assertError(r, 503);
    const ra = r.headers.get('retry-after');
    assert.match(String(ra), /^[1-9][0-9]*$/, `Retry-After is a number of seconds: ${ra}`);
  }
  await assertServing();
});
