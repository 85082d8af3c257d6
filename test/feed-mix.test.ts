/**
 * The complete For You feed over HTTP: mixer rules on the served pages (blocks through every
 * source, feedback fatigue), explanations, the chronological fallback when ranking fails,
 * and experiment variants (assignment, holdout, tagged impressions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DeepPartial, Config } from '../src/domain/config.js';
import { buildServer } from '../src/server/app.js';
import { assignVariant } from '../src/experiments/assignment.js';
import { LOG_EVENT } from '../src/store/store.js';
import { openEngine, tempDir } from './helpers.js';

const T0 = Date.UTC(2026, 0, 10);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Item {
  id: string;
  authorId: string;
  inNetwork: boolean;
  score: number;
  weightedScore?: number;
  sources?: { source: string; rank: number; score: number }[];
  rules?: { rule: string; factor?: number }[];
  propensity?: number;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
  variant: string;
  degraded?: boolean;
  degradedReasons?: string[];
}

/**
 * viewer follows f1, f2. f1 and f2 like posts by `blocked` (who viewer blocks), `blocker` (who
 * blocks viewer) and `annoying` (whose post viewer marks not interested); 10 other authors post
 * too, engaged by a crowd so that popular has them.
 */
async function setup(overrides: DeepPartial<Config> = {}) {
  const { dir, cleanup } = tempDir();
  const engine = await openEngine(join(dir, 'lenta.db'), overrides);
  const app = buildServer(engine);
  const post = async (url: string, payload: unknown) => {
    const res = await app.inject({ method: 'POST', url, payload: payload as object });
    assert.equal(res.statusCode, 200, res.body);
  };
  const authors = ['f1', 'f2', 'blocked', 'blocker', 'annoying', ...Array.from({ length: 10 }, (_, i) => `o${i}`)];
  const items = [];
  for (const a of authors) for (let k = 0; k < 12; k++) items.push({ id: `${a}-p${k}`, authorId: a, createdAt: T0 - k * HOUR, tags: [`topic:${a.startsWith('o') ? 'other' : a}`] });
  await post('/v1/items', { items });
  await post('/v1/follows', {
    follows: [
      { userId: 'viewer', targetId: 'f1', timestamp: T0 - DAY },
      { userId: 'viewer', targetId: 'f2', timestamp: T0 - DAY },
      { userId: 'viewer', targetId: 'blocked', kind: 'block', timestamp: T0 - DAY },
      { userId: 'blocker', targetId: 'viewer', kind: 'block', timestamp: T0 - DAY },
    ],
  });
  const events = [];
  for (const f of ['f1', 'f2']) for (const a of ['blocked', 'blocker', 'annoying']) for (let k = 0; k < 6; k++) events.push({ userId: f, itemId: `${a}-p${k}`, type: 'like', timestamp: T0 - HOUR });
  for (let u = 0; u < 20; u++) for (let k = 0; k < 10; k++) events.push({ userId: `crowd${u}`, itemId: `o${k}-p${u % 12}`, type: 'click', timestamp: T0 - 2 * HOUR });
  for (let u = 0; u < 20; u++) events.push({ userId: `crowd${u}`, itemId: `blocked-p${u % 12}`, type: 'like', timestamp: T0 - 2 * HOUR });
  events.push({ userId: 'viewer', itemId: 'annoying-p11', type: 'not_interested', timestamp: T0 - HOUR / 2 });
  await post('/v1/events', { events });
  const feed = async (user: string, query = ''): Promise<Page> => {
    const res = await app.inject({ method: 'GET', url: `/v1/users/${user}/feed?limit=20${query}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Page;
  };
  return { engine, app, post, feed, cleanup };
}

test('blocked authors (either direction) never appear, through the social graph or any source; a not_interested author is gone for the fatigue period', async () => {
  const { engine, post, feed, cleanup } = await setup();
  try {
    // The social graph walks the follows' likes: it proposes the annoying author's posts (the
    // fatigue filter removes them), but skips the blocked ones itself (the visibility filter
    // would remove them too) — though the follows liked them as much.
    const proposed = await engine.sourceCandidates('viewer', 500);
    const social = Array.from(proposed.get('social_graph') ?? [], (i) => engine.store.itemIds[i]!);
    assert.ok(social.some((id) => id.startsWith('annoying-')), social.join(','));
    assert.ok(!social.some((id) => id.startsWith('blocked-') || id.startsWith('blocker-')), social.join(','));
    const anySource = [...proposed.values()].flatMap((items) => Array.from(items, (i) => engine.store.itemIds[i]!));
    assert.ok(anySource.some((id) => id.startsWith('blocked-')), 'popular proposes the blocked author’s posts (the crowd liked them): the visibility filter removes them');

    let cursor = '';
    const seen: string[] = [];
    for (let page = 0; page < 4; page++) {
      const p = await feed('viewer', cursor);
      seen.push(...p.items.map((i) => i.authorId));
      if (!p.nextCursor) break;
      cursor = `&cursor=${encodeURIComponent(p.nextCursor)}`;
    }
    assert.ok(seen.length >= 60, `${seen.length} items over 4 pages`);
    for (const a of ['blocked', 'blocker', 'annoying', 'viewer']) assert.ok(!seen.includes(a), `${a} served`);

    // 15 days later (the feed's clock follows the log), the author is back, multiplied down.
    await post('/v1/events', { events: [{ userId: 'crowd0', itemId: 'o0-p0', type: 'click', timestamp: T0 + 15 * DAY }] });
    await post('/v1/items', { items: [{ id: 'annoying-new', authorId: 'annoying', createdAt: T0 + 15 * DAY - HOUR }] });
    await post('/v1/events', { events: [{ userId: 'f1', itemId: 'annoying-new', type: 'like', timestamp: T0 + 15 * DAY - HOUR / 2 }] });
    const later = await engine.forYouFeed('viewer', { limit: 50 });
    const back = later.items.find((i) => i.authorId === 'annoying');
    assert.ok(back, 'the author is served again after the filter period');
    const rule = back.rules?.find((r) => r.rule === 'feedback_fatigue');
    assert.ok(rule && rule.factor! > 0 && rule.factor! < 0.02, JSON.stringify(back.rules));
  } finally {
    await engine.close();
    cleanup();
  }
});

test('explanations: sources, weighted score, rules and propensity by default; explain=false drops them', async () => {
  const { engine, app, feed, cleanup } = await setup();
  try {
    const page = await feed('viewer');
    assert.equal(page.items.length, 20);
    for (const item of page.items) {
      assert.ok(item.sources && item.sources.length > 0 && item.sources.every((s) => s.rank >= 1));
      assert.equal(typeof item.weightedScore, 'number');
      assert.ok(item.propensity! > 0 && item.propensity! <= 1);
    }
    const rules = new Set(page.items.flatMap((i) => (i.rules ?? []).map((r) => r.rule)));
    assert.ok(rules.has('out_of_network'), [...rules].join(','));
    // A factor rule's factor is the ratio of the final to the rankers' score (when it is the only factor).
    for (const item of page.items) {
      const factors = (item.rules ?? []).filter((r) => r.factor !== undefined);
      if (factors.length === 1 && item.weightedScore! > 0) assert.ok(Math.abs(item.score - item.weightedScore! * factors[0]!.factor!) < 1e-4 * item.weightedScore! + 1e-6);
    }
    const bare = await app.inject({ method: 'GET', url: '/v1/users/viewer/feed?limit=5&explain=false' });
    const items = (bare.json() as Page).items;
    assert.equal(items.length, 5);
    for (const item of items) {
      assert.deepEqual(Object.keys(item).sort(), ['authorId', 'createdAt', 'id', 'inNetwork', 'score', 'tags']);
    }
    const bad = await app.inject({ method: 'GET', url: '/v1/users/viewer/feed?explain=maybe' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.field, 'explain');
  } finally {
    await engine.close();
    cleanup();
  }
});

test('when ranking fails the response is the chronological feed, degraded, with the reason; pages still never repeat', async () => {
  const { engine, feed, cleanup } = await setup();
  try {
    engine.fusion.score = () => {
      throw new Error('model file corrupt');
    };
    const first = await feed('viewer');
    assert.equal(first.degraded, true);
    assert.ok(first.degradedReasons!.some((r) => r.includes('source_fusion') && r.includes('model file corrupt')), first.degradedReasons!.join('; '));
    assert.ok(first.degradedReasons!.some((r) => r.includes('chronological')));
    assert.equal(first.items.length, 20);
    assert.ok(first.items.every((i) => i.authorId === 'f1' || i.authorId === 'f2'));
    assert.ok(first.items.every((i) => i.sources![0]!.source === 'following'));
    const second = await feed('viewer', `&cursor=${encodeURIComponent(first.nextCursor!)}`);
    const ids = new Set(first.items.map((i) => i.id));
    assert.equal(second.items.length, 4, 'the 24 followed posts, 20 then 4');
    assert.ok(second.items.every((i) => !ids.has(i.id)));
  } finally {
    await engine.close();
    cleanup();
  }
});

test('experiments: users get their assigned variant, its settings apply, the holdout gets the chronological feed, impressions carry variant and propensity', async () => {
  const experiments = {
    salt: 'exp1',
    variants: [{ name: 'no_oon_penalty', share: 0.4, config: { mix: { outOfNetwork: { enabled: false }, exploration: { enabled: false } } } }],
    holdout: { share: 0.3, feed: 'chronological' as const },
  };
  const { engine, app, feed, cleanup } = await setup({ experiments });
  try {
    const users = ['viewer', ...Array.from({ length: 20 }, (_, u) => `crowd${u}`), 'f1', 'f2'];
    const byVariant = new Map<string, string[]>();
    for (const u of users) {
      const page = await feed(u);
      const expected = assignVariant(u, engine.config.experiments).variant;
      assert.equal(page.variant, expected, u);
      byVariant.set(expected, [...(byVariant.get(expected) ?? []), u]);
      if (expected === 'no_oon_penalty') assert.ok(page.items.every((i) => !(i.rules ?? []).some((r) => r.rule === 'out_of_network' || r.rule === 'exploration')));
      if (expected === 'holdout') assert.ok(page.items.every((i) => i.sources![0]!.source === 'following' || i.sources![0]!.source === 'popular'));
    }
    assert.deepEqual([...byVariant.keys()].sort(), ['default', 'holdout', 'no_oon_penalty'], 'every group has users among these 23');
    // Forcing a variant, and an unknown one.
    assert.equal((await feed('viewer', '&variant=relevance-only')).variant, 'relevance-only');
    const bad = await app.inject({ method: 'GET', url: '/v1/users/viewer/feed?variant=nope' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.field, 'variant');

    await engine.drain();
    const contexts: { variant?: string; propensity?: number; inNetwork?: boolean }[] = [];
    for await (const chunk of engine.store.readLog(0, 10_000, true)) {
      for (let r = 0; r < chunk.length; r++) {
        if (chunk.kind[r] === LOG_EVENT && chunk.type[r] === engine.types.code('impression')) contexts.push(JSON.parse(chunk.context[r]!) as (typeof contexts)[number]);
      }
    }
    assert.ok(contexts.length >= users.length * 10);
    assert.ok(contexts.every((c) => typeof c.variant === 'string' && c.propensity! > 0 && c.propensity! <= 1 && typeof c.inNetwork === 'boolean'));
    assert.deepEqual(new Set(contexts.map((c) => c.variant)), new Set(['default', 'holdout', 'no_oon_penalty', 'relevance-only']));

    // Engagements are tagged with their user's variant too (unless they say one themselves).
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events',
      payload: {
        events: [
          { id: 'e1', userId: 'crowd3', itemId: 'o1-p1', type: 'like', timestamp: T0 },
          { id: 'e2', userId: 'crowd4', itemId: 'o1-p1', type: 'like', timestamp: T0, context: { variant: 'mine' } },
        ],
      },
    });
    assert.equal(res.statusCode, 200);
    const tagged = new Map<string, string>();
    for await (const chunk of engine.store.readLog(0, 100_000, true)) {
      for (let r = 0; r < chunk.length; r++) {
        if (chunk.kind[r] === LOG_EVENT && chunk.type[r] === engine.types.code('like') && chunk.ts[r] === T0) {
          tagged.set(engine.store.userIds[chunk.user[r]]!, (JSON.parse(chunk.context[r]!) as { variant: string }).variant);
        }
      }
    }
    assert.deepEqual(Object.fromEntries(tagged), { crowd3: assignVariant('crowd3', engine.config.experiments).variant, crowd4: 'mine' });
  } finally {
    await engine.close();
    cleanup();
  }
});
