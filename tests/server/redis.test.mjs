// The Redis tier (--redis) through `blockattn serve`: two server processes share blocks through a
// real redis-server this file starts on a free loopback port; the startup line, /v1/blocks/stats
// and /metrics report the tier; with Redis killed requests still succeed and the failure is
// counted. A missing redis-server fails the test (scripts/install_deps.sh installs it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { QUESTION, Server, assertBlockattn, freePort, metricSum, scrape, uniqueDoc } from './server.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'blockattn-redis-test-'));
let redis = null;
after(() => {
  if (redis && redis.exitCode === null) redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts redis-server on 127.0.0.1:port without persistence; resolves once it accepts connections.
async function startRedis(port) {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
    throw new Error('redis-server not found on PATH: run scripts/install_deps.sh (it installs redis-server)');
  }
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode} at start-up`);
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return proc;
    if (Date.now() > deadline) throw new Error('redis-server did not accept connections within 10 s');
    await sleep(50);
  }
}

test('--redis: a second server reuses the first one\'s blocks; a dead Redis means recompute', async () => {
  const port = await freePort();
  redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/0`;
  const texts = [uniqueDoc('Juniper'), uniqueDoc('Larch'), uniqueDoc('Hemlock')];
  const body = (modelId) => ({
    model: modelId, messages: [{ role: 'user', content: QUESTION }], max_tokens: 8, temperature: 0,
    blocks: texts.map((text) => ({ text })),
  });

  const first = new Server({ name: 'redis 1', args: ['--redis', url] });
  await first.start();
  let r1;
  try {
    await first.waitForStderr(/block cache: .*redis 127\.0\.0\.1:\d+\/0 \(.*up\)/);
    r1 = await first.post('/v1/chat/completions', body(first.modelId));
    assert.equal(r1.status, 200, r1.text);
    assert.ok(assertBlockattn(r1.json, { blocks: 3 }).blocks.every((b) => !b.reused), r1.text);
  } finally {
    await first.stop();
  }

  const second = new Server({ name: 'redis 2', args: ['--redis', url] });
  await second.start();
  try {
    const m0 = await scrape(second);
    const r2 = await second.post('/v1/chat/completions', body(second.modelId));
    assert.equal(r2.status, 200, r2.text);
    const ba = assertBlockattn(r2.json, { blocks: 3 });
    for (const b of ba.blocks) {
      assert.equal(b.reused, true, JSON.stringify(ba));
      assert.equal(b.tier, 'redis', JSON.stringify(ba));
    }
    assert.equal(r2.json.choices[0].message.content, r1.json.choices[0].message.content, 'same greedy answer');
    const m1 = await scrape(second);
    assert.equal(metricSum(m1, 'blockattn_block_cache_hits_total', { tier: 'redis' }) -
      metricSum(m0, 'blockattn_block_cache_hits_total', { tier: 'redis' }), 3, 'hits{tier="redis"} +3');
    const stats = await second.get('/v1/blocks/stats');
    assert.equal(stats.status, 200, stats.text);
    const tier = stats.json.tiers.find((t) => t.name === 'redis');
    assert.ok(tier, stats.text);
    assert.equal(tier.hits, 3, stats.text);
    assert.equal(tier.errors, 0, stats.text);

    // Redis dies: the same request (a new block, so the memory tier cannot answer it) succeeds.
    redis.kill('SIGKILL');
    await new Promise((r) => (redis.exitCode !== null || redis.signalCode !== null ? r() : redis.once('exit', r)));
    const r3 = await second.post('/v1/chat/completions', {
      ...body(second.modelId), blocks: [{ text: uniqueDoc('Cedar') }],
    });
    assert.equal(r3.status, 200, r3.text);
    assert.equal(assertBlockattn(r3.json, { blocks: 1 }).blocks[0].reused, false, r3.text);
    const down = await second.get('/v1/blocks/stats');
    assert.ok(down.json.tiers.find((t) => t.name === 'redis').errors >= 1, down.text);
    const m2 = await scrape(second);
    assert.ok(metricSum(m2, 'blockattn_block_cache_errors_total', { tier: 'redis' }) >= 1,
      'errors_total{tier="redis"} counts the failure');
  } finally {
    await second.stop();
  }
});
