// The disk tier (--cache-dir): blocks computed by one server process are reused by the next one
// from disk (tier "disk", blockattn_block_cache_hits_total{tier="disk"}).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QUESTION, Server, assertBlockattn, metricSum, scrape, uniqueDoc } from './server.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'blockattn-disk-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Entry files only: the directory also holds the shared size file .usage (docs/cache-format.md).
const listFiles = (d) => readdirSync(d, { recursive: true, withFileTypes: false }).filter((f) => String(f).endsWith('.bakv'));

test('--cache-dir: a restarted server reuses the blocks from disk', async () => {
  const texts = [uniqueDoc('Rowan'), uniqueDoc('Spruce'), uniqueDoc('Tamarack')];
  const body = (modelId) => ({
    model: modelId, messages: [{ role: 'user', content: QUESTION }], max_tokens: 8, temperature: 0,
    blocks: texts.map((text) => ({ text })),
  });
  const first = new Server({ name: 'disk 1', args: ['--cache-dir', dir] });
  await first.start();
  let r1;
  try {
    r1 = await first.post('/v1/chat/completions', body(first.modelId));
    assert.equal(r1.status, 200, r1.text);
    assert.ok(assertBlockattn(r1.json, { blocks: 3 }).blocks.every((b) => !b.reused), r1.text);
  } finally {
    await first.stop();
  }
  assert.ok(listFiles(dir).length > 0, `the first server wrote its blocks under ${dir}`);

  const second = new Server({ name: 'disk 2', args: ['--cache-dir', dir] });
  await second.start();
  try {
    const m0 = await scrape(second);
    const r2 = await second.post('/v1/chat/completions', body(second.modelId));
    assert.equal(r2.status, 200, r2.text);
    const ba = assertBlockattn(r2.json, { blocks: 3 });
    for (const b of ba.blocks) {
      assert.equal(b.reused, true, `after a restart: ${JSON.stringify(ba)}`);
      assert.equal(b.tier, 'disk', `after a restart: ${JSON.stringify(ba)}`);
    }
    assert.deepEqual(ba.blocks.map((b) => b.id), r1.json.blockattn.blocks.map((b) => b.id), 'same ids');
    assert.equal(r2.json.choices[0].message.content, r1.json.choices[0].message.content, 'same greedy answer');
    const m1 = await scrape(second);
    assert.equal(metricSum(m1, 'blockattn_block_cache_hits_total', { tier: 'disk' }) -
      metricSum(m0, 'blockattn_block_cache_hits_total', { tier: 'disk' }), 3, 'hits{tier="disk"} +3');
    assert.ok(metricSum(m1, 'blockattn_block_cache_bytes', { tier: 'disk' }) > 0, 'cache bytes{tier="disk"} > 0');
  } finally {
    await second.stop();
  }
});
