// --api-key K (and the environment variable BLOCKATTN_API_KEY): every endpoint but /health wants
// `Authorization: Bearer K`, else 401 authentication_error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { QUESTION, assertError, useServer } from './server.mjs';

const KEY = 'test-key-7f3a9c';
const ENV_KEY = 'env-key-51d2e0';
const flag = useServer({ name: 'api-key flag', args: ['--api-key', KEY] });
const env = useServer({ name: 'api-key env', env: { BLOCKATTN_API_KEY: ENV_KEY } });
const execFileP = promisify(execFile);

const chat = (server) => ({
  model: server.modelId, messages: [{ role: 'user', content: QUESTION }], max_tokens: 4, temperature: 0,
});

// [method, path, body] of every endpoint.
const ENDPOINTS = (server) => [
  ['GET', '/v1/models'],
  ['POST', '/v1/chat/completions', chat(server)],
  ['POST', '/v1/completions', { model: server.modelId, prompt: 'The river', max_tokens: 4 }],
  ['POST', '/v1/blocks', { blocks: [{ text: 'a block' }] }],
  ['GET', '/v1/blocks/stats'],
  ['DELETE', `/v1/blocks/blk_${'0'.repeat(32)}`],
  ['POST', '/v1/segment', { text: 'One. Two.', max_tokens: 16 }],
  ['POST', '/tokenize', { content: 'hello' }],
  ['POST', '/detokenize', { tokens: [6399, 3965] }],
  ['GET', '/metrics'],
];

for (const [name, server, key] of [['--api-key', flag, KEY], ['BLOCKATTN_API_KEY', env, ENV_KEY]]) {
  test(`${name}: no or a wrong Authorization → 401 authentication_error on every endpoint but /health`, async () => {
    for (const [method, p, body] of ENDPOINTS(server)) {
      for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: key },
        { Authorization: `Basic ${Buffer.from(`u:${key}`).toString('base64')}` }, { Authorization: `Bearer ${key}x` }]) {
        const res = await server.request(method, p, body, headers);
        try {
          assertError(res, 401, 'authentication_error');
        } catch (e) {
          e.message = `${method} ${p} with ${JSON.stringify(headers)}: ${e.message}`;
          throw e;
        }
      }
    }
    const h = await server.get('/health');
    assert.equal(h.status, 200, `/health needs no key: ${h.text}`);
  });

  test(`${name}: the right key is served (fetch, curl and the SDK)`, async () => {
    for (const [method, p, body] of ENDPOINTS(server)) {
      const res = await server.request(method, p, body, { Authorization: `Bearer ${key}` });
      assert.notEqual(res.status, 401, `${method} ${p} with the key: ${res.status} ${res.text.slice(0, 300)}`);
      if (!p.startsWith('/v1/blocks/blk_')) assert.equal(res.status, 200, `${method} ${p}: ${res.text.slice(0, 300)}`);
    }
    const { stdout } = await execFileP('curl', ['-sS', '--fail-with-body', '-H', `Authorization: Bearer ${key}`,
      server.url('/v1/models')]);
    assert.equal(JSON.parse(stdout).data[0].id, server.modelId);

    const good = await server.openai({ apiKey: key });
    const r = await good.chat.completions.create(chat(server));
    assert.equal(typeof r.choices[0].message.content, 'string');

    const bad = await server.openai({ apiKey: 'wrong' });
    await assert.rejects(bad.chat.completions.create(chat(server)), (e) => {
      assert.equal(e.status, 401, String(e));
      assert.equal(e.error?.type ?? e.type, 'authentication_error', String(e));
      return true;
    });
  });
}

// Raw HTTP/1.1 on one keep-alive connection: a rejected POST whose body arrives in a second TCP
// segment (as undici in Node 18, and most clients for larger bodies, send it), then a good request.
// The server must either read (discard) the rejected request's body or close the connection
// (Connection: close); it must not parse that body as the next request.
function rawExchange(port, first, second) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    let stage = 0;
    const timer = setTimeout(() => { s.destroy(); resolve(data); }, 5_000);
    s.on('error', (e) => { clearTimeout(timer); if (stage >= 1) resolve(data); else reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    s.on('connect', async () => {
      s.write(first.head);
      await new Promise((r) => setTimeout(r, 50));
      s.write(first.body);
      stage = 1;
    });
    s.on('data', (d) => {
      data += d;
      if (stage === 1 && /\r\n\r\n/.test(data) && data.includes('}')) {
        stage = 2;
        if (/^connection:\s*close/im.test(data.split('\r\n\r\n')[0])) return; // closed: fine
        s.write(second);
      } else if (stage === 2 && /HTTP\/1\.1 \d{3}[\s\S]*HTTP\/1\.1 \d{3}[\s\S]*\r\n\r\n/.test(data)) {
        setTimeout(() => s.end(), 300);
      }
    });
  });
}

test('a 401 on a keep-alive connection does not break the next request on it', async () => {
  const body = JSON.stringify(chat(flag));
  const head = (auth) => 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `${auth ? `Authorization: ${auth}\r\n` : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  for (const auth of [null, 'Bearer wrong']) {
    const data = await rawExchange(flag.port, { head: head(auth), body }, head(`Bearer ${KEY}`) + body);
    const statuses = [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    const ctx = `Authorization ${auth}: responses ${statuses}:\n${data.slice(0, 1500)}`;
    assert.equal(statuses[0], '401', ctx);
    const closed = /^connection:\s*close/im.test(data.split('\r\n\r\n')[0]);
    if (!closed) assert.deepEqual(statuses, ['401', '200'], `the next request on the connection: ${ctx}`);
  }
});
