// Hardening: the default bind is loopback only; /health answers 503 (an error object) until the
// model is loaded; a client that goes away mid-stream frees its slot; a stalled client is dropped
// (--io-timeout); SIGTERM with requests in flight lets them finish and exits 0; --alias.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { promisify } from 'node:util';
import { DOCS, QUESTION, Server, metricSum, parseSSE, scrape, useServer } from './server.mjs';

const execFileP = promisify(execFile);
const server = useServer({ name: 'lifecycle' });
const aliased = useServer({ name: 'alias', args: ['--alias', 'my-rag-model'] });
const impatient = useServer({ name: 'io-timeout', args: ['--io-timeout', '1'] });

// A timer that does not keep the process alive once the tests are done.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

function tryConnect(host, port, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (result) => {
      s.destroy();
      resolve(result);
    };
    s.setTimeout(ms, () => done('timeout'));
    s.on('connect', () => done('connected'));
    s.on('error', (e) => done(e.code || 'error'));
  });
}

function nonLoopbackAddresses() {
  const out = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    for (const a of addrs || []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' || a.family === 4) out.push(a.address);
      else if (a.address.toLowerCase().startsWith('fe80:')) out.push(`${a.address}%${name}`);
      else out.push(a.address);
    }
  }
  return out;
}

async function listeningAddresses(port) {
  const { stdout } = await execFileP('ss', ['-ltnH']);
  const locals = [];
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    const local = cols[3];
    if (local.endsWith(`:${port}`)) locals.push(local);
  }
  return locals;
}

test('by default nothing listens on a non-loopback address', async () => {
  const addrs = nonLoopbackAddresses();
  for (const host of addrs) {
    const r = await tryConnect(host, server.port);
    assert.notEqual(r, 'connected', `connected to ${host}:${server.port}: the server listens beyond loopback`);
  }
  let locals;
  try {
    locals = await listeningAddresses(server.port);
  } catch (e) {
    if (addrs.length === 0) throw new Error(`no non-loopback address to try and \`ss -ltnH\` failed: ${e.message}`);
    return; // the connection attempts above were the check
  }
  assert.ok(locals.includes(`127.0.0.1:${server.port}`), `ss -ltn shows 127.0.0.1:${server.port}: ${locals}`);
  for (const l of locals) {
    assert.ok(l.startsWith('127.') || l === `[::1]:${server.port}`, `listening on ${l} (only loopback allowed)`);
  }
});

test('while loading, /health answered 503 with an error object (whatever the startup poll saw)', async () => {
  for (const srv of [server, aliased]) {
    for (const h of srv.healthDuringStartup) {
      assert.equal(h.status, 503, `GET /health during startup: ${h.status} ${h.body}`);
      const body = JSON.parse(h.body);
      assert.equal(typeof body.error?.message, 'string', `error object: ${h.body}`);
    }
  }
});

test('--alias NAME: /v1/models lists NAME and requests name it', async () => {
  const models = await aliased.get('/v1/models');
  assert.equal(models.status, 200, models.text);
  assert.deepEqual(models.json.data.map((m) => m.id), ['my-rag-model'], models.text);
  const client = await aliased.openai();
  const r = await client.chat.completions.create({
    model: 'my-rag-model', messages: [{ role: 'user', content: QUESTION }], max_tokens: 4, temperature: 0,
  });
  assert.equal(r.model, 'my-rag-model');
});

test('SIGTERM with requests in flight: they finish (finish_reason, [DONE]) and the server exits 0', async () => {
  const srv = new Server({ name: 'sigterm' });
  await srv.start();
  try {
    const body = {
      model: srv.modelId,
      messages: [{ role: 'user', content: `${DOCS.walnut}\n${DOCS.river}\n${DOCS.apt}\nTell me about the ferry.` }],
      max_tokens: 24,
      temperature: 0.8,
      seed: 3,
      blocks: [{ text: DOCS.walnut }, { text: DOCS.river }],
    };
    const nonStreaming = srv.post('/v1/chat/completions', body);
    const res = await srv.fetch('/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let raw = '';
    while (!raw.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += dec.decode(value, { stream: true });
    }
    assert.ok(raw.startsWith('data: '), `a first event before SIGTERM: ${JSON.stringify(raw)}`);

    srv.stopping = true;
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += dec.decode(value, { stream: true });
    }
    const { chunks, done } = parseSSE(raw);
    const finish = chunks.find((c) => c.choices?.[0]?.finish_reason);
    assert.ok(finish, `the streamed request reports a finish_reason after SIGTERM:\n${raw.slice(-1500)}`);
    assert.ok(done, `the stream ends with data: [DONE]:\n${raw.slice(-500)}`);
    const ns = await nonStreaming;
    assert.equal(ns.status, 200, `the non-streaming request in flight finishes: ${ns.status} ${ns.text.slice(0, 300)}`);
    assert.ok(ns.json.choices[0].finish_reason, ns.text);

    const exit = await Promise.race([srv.exited, sleep(15_000).then(() => null)]);
    assert.ok(exit, `still running 15 s after SIGTERM; stderr:\n${srv.stderrTail()}`);
    const secs = (Date.now() - t0) / 1000;
    assert.equal(exit.signal, null, `killed by ${exit.signal}; stderr:\n${srv.stderrTail()}`);
    assert.equal(exit.code, 0, `exit status after SIGTERM; stderr:\n${srv.stderrTail()}`);
    assert.ok(secs < 10, `exited ${secs.toFixed(1)} s after SIGTERM (a few seconds at most)`);
  } finally {
    if (!srv.exit) {
      srv.proc.kill('SIGKILL');
      await srv.exited;
    }
  }
});

test('a client that disconnects mid-stream: generation stops, the slot is freed, the server keeps serving', async () => {
  const before = await scrape(server);
  const ac = new AbortController();
  const res = await server.fetch('/v1/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    // long enough (≈ 6 s on 2 CPU cores) that finishing it anyway shows
    body: JSON.stringify({ model: server.modelId, prompt: 'The river Lune floods the lower meadow every March.',
      max_tokens: 600, temperature: 0.8, seed: 1, stream: true }),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  ac.abort();
  await reader.cancel().catch(() => {});
  const t0 = Date.now();
  let m;
  for (;;) {
    m = await scrape(server);
    if (metricSum(m, 'blockattn_requests_running') === 0) break;
    assert.ok(Date.now() - t0 < 3000, `requests_running still ${metricSum(m, 'blockattn_requests_running')} 3 s after the client went away`);
    await sleep(100);
  }
  const generated = metricSum(m, 'blockattn_generated_tokens_total') - metricSum(before, 'blockattn_generated_tokens_total');
  assert.ok(generated < 600, `generation stopped early (${generated} of 600 tokens)`);
  const ok = await server.post('/v1/completions', { model: server.modelId, prompt: 'The river', max_tokens: 4 });
  assert.equal(ok.status, 200, ok.text);
});

// Sends `bytes` and then nothing; resolves with how long the server kept the connection open.
function stall(port, bytes, limitMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('data', () => {});
    s.on('error', () => {});
    const timer = setTimeout(() => { s.destroy(); resolve(Infinity); }, limitMs);
    s.on('close', () => { clearTimeout(timer); resolve(Date.now() - t0); });
  });
}

test('--io-timeout 1: a client that stalls in its headers or body is dropped, the server keeps serving', async () => {
  const limit = 15_000;
  const [body, headers] = await Promise.all([
    stall(impatient.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100\r\n\r\n{"mo', limit),
    stall(impatient.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', limit),
  ]);
  assert.ok(body < limit, `a stalled body was still connected after ${limit / 1000} s`);
  assert.ok(headers < limit, `stalled headers were still connected after ${limit / 1000} s`);
  const h = await impatient.get('/health');
  assert.equal(h.status, 200, h.text);
});

// SIGTERM once the server listens is a clean stop: right after /health turns 200, and while the
// model is still loading (the process must not die of the signal's default action). (Before it
// listens, in the first moments of the process, the default action is fair.)
async function sigtermAt(when) {
  const srv = new Server({ name: `sigterm ${when}` });
  try {
    if (when === 'ready') {
      await srv.start();
    } else {
      await srv.startProcess();
      await srv.waitForStderr(/listening on/, 60_000);
      await sleep(10);
    }
    srv.stopping = true;
    srv.proc.kill('SIGTERM');
    const exit = await Promise.race([srv.exited, sleep(20_000).then(() => null)]);
    assert.ok(exit, `${when}: still running 20 s after SIGTERM; stderr:\n${srv.stderrTail()}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `${when}: SIGTERM → exit status 0 ` +
      `(exit code 143 / signal SIGTERM = the signal's default action killed it); stderr:\n${srv.stderrTail()}`);
  } finally {
    if (!srv.exit) {
      srv.proc.kill('SIGKILL');
      await srv.exited;
    }
  }
}

test('SIGTERM right after /health turns 200 → exit status 0 (3 times)', async () => {
  for (let i = 0; i < 3; i++) await sigtermAt('ready');
});

test('SIGTERM while the model loads → exit status 0 (3 times)', async () => {
  for (let i = 0; i < 3; i++) await sigtermAt('loading');
});
