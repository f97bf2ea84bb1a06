// Helpers for the end-to-end tests of `blockattn serve` (node --test, Node 18+).
//
// useServer(opts) registers before/after hooks that start one server per test file on a free
// loopback port and stop it (SIGTERM, then SIGKILL after 20 s). The server is
//   $BLOCKATTN_CLI serve --model $BLOCKATTN_MODEL --port P --parallel 2 --memory-cache-mb 256 [args]
// Missing configuration (BLOCKATTN_CLI, BLOCKATTN_MODEL, node_modules) fails the tests; nothing is
// ever skipped.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before } from 'node:test';
import assert from 'node:assert/strict';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const HEALTH_POLL_MS = 100;
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
const STDERR_KEEP = 64 * 1024;

export const SERVER_DEFAULT_ARGS = ['--parallel', '2', '--memory-cache-mb', '256'];

// The configuration every test needs; throws (the test fails) with a clear message.
export function config() {
  const problems = [];
  const cli = process.env.BLOCKATTN_CLI;
  const model = process.env.BLOCKATTN_MODEL;
  if (!cli) {
    problems.push('BLOCKATTN_CLI is not set (the path of the blockattn binary, e.g. build/blockattn)');
  } else {
    try {
      accessSync(cli, constants.X_OK);
      if (!statSync(cli).isFile()) throw new Error('not a file');
    } catch {
      problems.push(`BLOCKATTN_CLI=${cli}: no executable file there (build it: scripts/build.sh)`);
    }
  }
  if (!model) {
    problems.push('BLOCKATTN_MODEL is not set (a model directory, e.g. models/blockattn-10m)');
  } else if (!existsSync(path.join(model, 'config.json'))) {
    problems.push(`BLOCKATTN_MODEL=${model}: no model directory there (no config.json)`);
  }
  if (!existsSync(path.join(HERE, 'node_modules', 'openai', 'package.json'))) {
    problems.push(`${path.join(HERE, 'node_modules')} is missing: run scripts/install_deps.sh ` +
      '(it runs `npm ci` in tests/server)');
  }
  if (problems.length) throw new Error(`server tests are not configured:\n  ${problems.join('\n  ')}`);
  return { cli: path.resolve(cli), model: path.resolve(model), modelId: path.basename(path.resolve(model)) };
}

// A TCP port that was free on 127.0.0.1 a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  constructor({ args = [], env = {}, name = 'server' } = {}) {
    this.extraArgs = args;
    this.extraEnv = env;
    this.name = name;
    this.proc = null;
    this.port = 0;
    this.stderrText = '';
    this.stdoutText = '';
    this.exit = null; // {code, signal} once exited
    this.stopping = false;
    this.healthDuringStartup = []; // {status, body} of every non-200 /health answer while starting
    this.startMs = 0;
  }

  get baseURL() {
    return `http://127.0.0.1:${this.port}`;
  }

  url(p) {
    return `${this.baseURL}${p}`;
  }

  stderrTail(n = 4000) {
    const s = this.stderrText.trim();
    return s.length > n ? `…${s.slice(-n)}` : s || '(empty)';
  }

  describeExit() {
    if (!this.exit) return 'running';
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  async start() {
    await this.startProcess();
    await this.waitUntilReady();
    return this;
  }

  // Resolves when a line of stderr matches `re`; fails when the server exits first.
  async waitForStderr(re, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.stderrText)) {
      if (this.exit) throw new Error(`${this.name}: exited (${this.describeExit()}) before stderr matched ${re}:\n${this.stderrTail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: stderr did not match ${re} within ${timeoutMs} ms:\n${this.stderrTail()}`);
      await sleep(5);
    }
  }

  async startProcess() {
    const { cli, model, modelId } = config();
    this.modelId = modelId;
    this.port = await freePort();
    const env = { ...process.env };
    delete env.BLOCKATTN_API_KEY; // only where a test asks for it
    Object.assign(env, this.extraEnv);
    this.argv = ['serve', '--model', model, '--port', String(this.port), ...SERVER_DEFAULT_ARGS,
      ...this.extraArgs];
    this.proc = spawn(cli, this.argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => {
      this.stderrText = (this.stderrText + d).slice(-STDERR_KEEP);
    });
    this.proc.stdout.on('data', (d) => {
      this.stdoutText = (this.stdoutText + d).slice(-STDERR_KEEP);
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.proc.on('error', (e) => {
      this.stderrText += `\n[spawn error] ${e.message}`;
    });
    // Never leave a server behind when the test process dies.
    this.killOnExit = () => {
      if (!this.exit) this.proc.kill('SIGKILL');
    };
    process.on('exit', this.killOnExit);

    this.startMs = Date.now();
  }

  async waitUntilReady() {
    const deadline = this.startMs + START_TIMEOUT_MS;
    for (;;) {
      if (this.exit) {
        throw new Error(`${this.name}: \`blockattn ${this.argv.join(' ')}\` exited before it was ` +
          `ready (${this.describeExit()}); stderr:\n${this.stderrTail()}`);
      }
      try {
        const res = await fetch(this.url('/health'), { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200) break;
        this.healthDuringStartup.push({ status: res.status, body: text });
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: GET /health did not return 200 within ${START_TIMEOUT_MS / 1000} s; ` +
          `stderr:\n${this.stderrTail()}`);
      }
      await sleep(HEALTH_POLL_MS);
    }
    this.readyMs = Date.now() - this.startMs;
  }

  // Fails with the server's stderr when it has died (so a crash reads as a crash, not ECONNREFUSED).
  assertAlive(what = '') {
    if (this.exit && !this.stopping) {
      throw new Error(`${this.name}: the server died${what ? ` (${what})` : ''}: ${this.describeExit()}; ` +
        `stderr:\n${this.stderrTail()}`);
    }
  }

  async fetch(p, init = {}) {
    this.assertAlive(`before ${init.method || 'GET'} ${p}`);
    try {
      return await fetch(this.url(p), { signal: AbortSignal.timeout(120_000), ...init });
    } catch (e) {
      await sleep(200);
      this.assertAlive(`during ${init.method || 'GET'} ${p}: ${e.message}`);
      throw e;
    }
  }

  // A request; returns {status, headers, text, json} (json undefined when the body is not JSON).
  // body: an object (sent as JSON), a string or a Buffer (sent as is).
  async request(method, p, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
      if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
        init.headers['Content-Type'] = 'application/json';
      }
    }
    const res = await this.fetch(p, init);
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  get(p, headers) {
    return this.request('GET', p, undefined, headers);
  }

  post(p, body, headers) {
    return this.request('POST', p, body, headers);
  }

  delete(p, headers) {
    return this.request('DELETE', p, undefined, headers);
  }

  // The official SDK against this server. maxRetries 0: a retried request would hide failures.
  async openai({ apiKey = 'x', ...opts } = {}) {
    let OpenAI;
    try {
      ({ default: OpenAI } = await import('openai'));
    } catch (e) {
      throw new Error(`cannot load the openai SDK (${e.message}): run scripts/install_deps.sh`);
    }
    return new OpenAI({ baseURL: `${this.baseURL}/v1`, apiKey, maxRetries: 0, timeout: 120_000, ...opts });
  }

  // SIGTERM, wait for the exit (SIGKILL after 20 s). Throws when the server had died before, did not
  // stop in time, or did not exit with status 0.
  async stop() {
    if (!this.proc) return;
    process.removeListener('exit', this.killOnExit);
    const diedEarly = this.exit && !this.stopping;
    this.stopping = true;
    if (diedEarly) {
      throw new Error(`${this.name}: the server exited during the tests (${this.describeExit()}); stderr:\n` +
        this.stderrTail());
    }
    if (!this.exit) this.proc.kill('SIGTERM');
    const t0 = Date.now();
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(r, STOP_TIMEOUT_MS, 'timeout'); });
    const got = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (got === 'timeout') {
      this.proc.kill('SIGKILL');
      await this.exited;
      throw new Error(`${this.name}: still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM (killed); ` +
        `stderr:\n${this.stderrTail()}`);
    }
    this.stopMs = Date.now() - t0;
    if (this.exit.code !== 0) {
      throw new Error(`${this.name}: after SIGTERM the server ended with ${this.describeExit()} ` +
        `(expected exit code 0); stderr:\n${this.stderrTail()}`);
    }
  }
}

// One server for the whole test file: started in before(), stopped in after().
export function useServer(opts = {}) {
  const server = new Server(opts);
  before(async () => {
    await server.start();
  }, { timeout: START_TIMEOUT_MS + 10_000 });
  after(async () => {
    await server.stop();
  }, { timeout: STOP_TIMEOUT_MS + 10_000 });
  return server;
}

// --- response checks -------------------------------------------------------------------------

// Asserts an OpenAI error response: status, {"error":{"message","type","param","code"}}.
export function assertError(res, status, type, { code, param } = {}) {
  const ctx = `response ${res.status} ${res.text.slice(0, 500)}`;
  assert.equal(res.status, status, `status: ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object', `body is not JSON: ${ctx}`);
  const err = res.json.error;
  assert.ok(err && typeof err === 'object', `no "error" object: ${ctx}`);
  assert.equal(typeof err.message, 'string', `error.message: ${ctx}`);
  assert.ok(err.message.length > 0, `empty error.message: ${ctx}`);
  assert.ok('param' in err && (err.param === null || typeof err.param === 'string'),
    `error.param must be a string or null: ${ctx}`);
  assert.ok('code' in err && (err.code === null || typeof err.code === 'string'),
    `error.code must be a string or null: ${ctx}`);
  if (type !== undefined) assert.equal(err.type, type, `error.type: ${ctx}`);
  else assert.equal(typeof err.type, 'string', `error.type: ${ctx}`);
  if (code !== undefined) assert.equal(err.code, code, `error.code: ${ctx}`);
  if (param instanceof RegExp) assert.match(String(err.param), param, `error.param: ${ctx}`);
  else if (param !== undefined) assert.equal(err.param, param, `error.param: ${ctx}`);
  return err;
}

export const BLOCK_ID = /^blk_[0-9a-f]{32}$/;

// Asserts the `blockattn` object of a response; returns it.
export function assertBlockattn(obj, { attention = 'block', blocks } = {}) {
  const ba = obj.blockattn;
  const ctx = JSON.stringify(obj).slice(0, 800);
  assert.ok(ba && typeof ba === 'object', `no blockattn object in ${ctx}`);
  assert.equal(ba.attention, attention, `blockattn.attention in ${ctx}`);
  assert.ok(Array.isArray(ba.blocks), `blockattn.blocks is not a list in ${ctx}`);
  for (const [i, b] of ba.blocks.entries()) {
    assert.equal(b.index, i, `blockattn.blocks[${i}].index in ${ctx}`);
    assert.match(String(b.id), BLOCK_ID, `blockattn.blocks[${i}].id in ${ctx}`);
    assert.ok(Number.isInteger(b.tokens) && b.tokens > 0, `blockattn.blocks[${i}].tokens in ${ctx}`);
    assert.equal(typeof b.reused, 'boolean', `blockattn.blocks[${i}].reused in ${ctx}`);
    assert.ok(b.tier === null || ['memory', 'disk', 'redis'].includes(b.tier), `blockattn.blocks[${i}].tier in ${ctx}`);
    if (!b.reused) assert.equal(b.tier, null, `a computed block has tier null: blocks[${i}] in ${ctx}`);
    else assert.notEqual(b.tier, null, `a reused block names its tier: blocks[${i}] in ${ctx}`);
  }
  if (blocks !== undefined) assert.equal(ba.blocks.length, blocks, `number of blockattn.blocks in ${ctx}`);
  for (const k of ['ttft_ms', 'prefill_ms']) {
    assert.ok(typeof ba[k] === 'number' && Number.isFinite(ba[k]) && ba[k] >= 0, `blockattn.${k} in ${ctx}`);
  }
  return ba;
}

export function assertUsage(usage, ctx = '') {
  assert.ok(usage && typeof usage === 'object', `no usage ${ctx}`);
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(usage[k]) && usage[k] >= 0, `usage.${k}=${usage[k]} ${ctx}`);
  }
  assert.ok(usage.prompt_tokens > 0, `usage.prompt_tokens > 0 ${ctx}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, `usage.total_tokens ${ctx}`);
}

// Asserts an OpenAI completion object (chat or text); returns choices[0].
export function assertCompletion(obj, { chat, modelId, maxTokens }) {
  const ctx = JSON.stringify(obj).slice(0, 800);
  assert.equal(typeof obj.id, 'string', `id in ${ctx}`);
  assert.ok(obj.id.length > 0, `id in ${ctx}`);
  assert.equal(obj.object, chat ? 'chat.completion' : 'text_completion', `object in ${ctx}`);
  assert.ok(Number.isInteger(obj.created) && Math.abs(obj.created - Date.now() / 1000) < 3600,
    `created (unix seconds) in ${ctx}`);
  assert.equal(obj.model, modelId, `model in ${ctx}`);
  assert.ok(Array.isArray(obj.choices) && obj.choices.length === 1, `one choice in ${ctx}`);
  const c = obj.choices[0];
  assert.equal(c.index, 0, `choices[0].index in ${ctx}`);
  if (chat) {
    assert.equal(c.message?.role, 'assistant', `message.role in ${ctx}`);
    assert.equal(typeof c.message.content, 'string', `message.content in ${ctx}`);
  } else {
    assert.equal(typeof c.text, 'string', `text in ${ctx}`);
  }
  assert.ok(c.finish_reason === 'stop' || c.finish_reason === 'length', `finish_reason in ${ctx}`);
  assertUsage(obj.usage, `in ${ctx}`);
  if (maxTokens !== undefined) {
    assert.ok(obj.usage.completion_tokens <= maxTokens, `completion_tokens ≤ max_tokens in ${ctx}`);
    if (c.finish_reason === 'length') {
      assert.equal(obj.usage.completion_tokens, maxTokens, `finish_reason length ⇒ max_tokens tokens in ${ctx}`);
    }
  }
  return c;
}

// --- server-sent events ------------------------------------------------------------------------

// POSTs a streaming request and reads the whole event stream. Returns
// {status, headers, raw, events (data strings), chunks (parsed JSON), done (saw [DONE] last)}.
export async function postStream(server, p, body, headers = {}) {
  const res = await server.fetch(p, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, raw, ...parseSSE(raw) };
}

export function parseSSE(raw) {
  const events = [];
  for (const block of raw.split(/\r?\n\r?\n/)) {
    if (block.trim() === '') continue;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue; // comment / keep-alive
      if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      else throw new Error(`unexpected line in the event stream: ${JSON.stringify(line)}\n${raw.slice(0, 2000)}`);
    }
    events.push(data.join('\n'));
  }
  const done = events.length > 0 && events[events.length - 1] === '[DONE]';
  const chunks = [];
  for (const e of events) {
    if (e === '[DONE]') continue;
    chunks.push(JSON.parse(e)); // throws (fails the test) on a malformed event
  }
  return { events, chunks, done };
}

// The text of a list of streamed chunks (chat deltas or completion texts).
export function streamedText(chunks) {
  let s = '';
  for (const c of chunks) {
    const ch = c.choices?.[0];
    if (!ch) continue;
    s += ch.delta?.content ?? ch.text ?? '';
  }
  return s;
}

// --- Prometheus text ---------------------------------------------------------------------------

// Parses the Prometheus text format into {types: Map name→type, samples: [{name, labels, value}]}.
export function parseMetrics(text) {
  const types = new Map();
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    assert.ok(m, `unparsable metrics line: ${line}`);
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
      let lm;
      while ((lm = re.exec(m[3])) !== null) labels[lm[1]] = lm[2];
    }
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    samples.push({ name: m[1], labels, value: v });
  }
  return { types, samples };
}

// Sum of the samples of `name` whose labels include `labels`.
export function metricSum(parsed, name, labels = {}) {
  let sum = 0;
  for (const s of parsed.samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

export async function scrape(server, headers) {
  const res = await server.get('/metrics', headers);
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.text.slice(0, 300)}`);
  return { text: res.text, headers: res.headers, ...parseMetrics(res.text) };
}

// --- prompts -----------------------------------------------------------------------------------

// Texts unique to one test run, so no cache from another run can answer for them.
export function uniqueDoc(label) {
  const n = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return `Note ${label} ${n}. The ${label} archive keeps its records in a green box; ` +
    `the access code of the ${label} archive is ${Math.floor(10000 + Math.random() * 89999)}.`;
}

export const DOCS = {
  walnut: 'The Walnut archive sits at the top of the north tower of the old library. It holds the ' +
    "city's land records from 1820 to 1950, bound in green leather. Visitors sign the ledger at the " +
    'door. The access code of the Walnut archive is 48213. The code changes every spring.',
  river: 'The river Lune floods the lower meadow every March. The ferry stops running when the ' +
    'water reaches the third post; the ferryman lives in the blue house by the jetty.',
  apt: 'To install a package on Debian, run apt-get install followed by the package name. ' +
    'apt-get update refreshes the package lists from the configured mirrors.',
};

export const QUESTION = 'What is the access code of the Walnut archive?';
