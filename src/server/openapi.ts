/**
 * The API's OpenAPI 3.1 description, served at /openapi.json. The same JSON schemas are
 * attached to the fastify routes (documentation and response serialisation); request bodies
 * are validated by src/domain/validate.ts so that every error names the exact field.
 */

const id = { type: 'string', minLength: 1, maxLength: 256 };
const timestamp = {
  oneOf: [
    { type: 'integer', description: 'epoch milliseconds' },
    { type: 'string', format: 'date-time', description: 'ISO 8601' },
  ],
};

export const schemas = {
  User: {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id, createdAt: timestamp, attributes: { type: 'object' } },
  },
  Item: {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: {
      id,
      authorId: id,
      createdAt: timestamp,
      tags: { type: 'array', items: { type: 'string' } },
      text: { type: 'string' },
      attributes: { type: 'object' },
    },
  },
  Follow: {
    type: 'object',
    required: ['userId', 'targetId'],
    additionalProperties: false,
    properties: {
      userId: id,
      targetId: id,
      kind: { type: 'string', enum: ['follow', 'mute', 'block'], default: 'follow' },
      removed: { type: 'boolean', description: 'true removes the edge (unfollow, unmute, unblock)' },
      timestamp: { ...timestamp, description: 'defaults to the time of the request' },
    },
  },
  Event: {
    type: 'object',
    required: ['userId', 'itemId', 'type', 'timestamp'],
    additionalProperties: false,
    properties: {
      id: { ...id, description: 'client-supplied id: re-sending the same id is idempotent' },
      userId: id,
      itemId: id,
      type: { type: 'string', description: 'a type of the event-type registry (see `lenta config`)' },
      timestamp,
      value: { type: 'number', description: 'required for valued types: dwell (ms), rating (stars), play (count)' },
      context: {
        type: 'object',
        properties: {
          requestId: { type: 'string' },
          position: { type: 'integer', minimum: 0 },
          propensity: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          variant: { type: 'string' },
          source: { type: 'string' },
          inNetwork: { type: 'boolean' },
        },
      },
    },
  },
  Accepted: {
    type: 'object',
    properties: {
      accepted: { type: 'integer', description: 'records of the batch now durable (a batch is all-or-nothing)' },
      duplicates: { type: 'integer', description: 'events whose id was already in the log' },
    },
  },
  Error: {
    type: 'object',
    properties: {
      error: {
        type: 'object',
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          field: { type: 'string', description: 'the offending field, e.g. events[3].type' },
        },
      },
    },
  },
  FeedItem: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      authorId: { type: 'string' },
      score: { type: 'number', description: "the final score: the rankers' score after the mixer's rules (the page's order also follows the page rules)" },
      createdAt: { type: 'string', format: 'date-time' },
      tags: { type: 'array', items: { type: 'string' } },
      text: { type: 'string' },
      inNetwork: { type: 'boolean' },
      sources: {
        type: 'array',
        description: 'the candidate sources that proposed the item, with its rank and score in each (explanations: left out with explain=false)',
        items: { type: 'object', properties: { source: { type: 'string' }, score: { type: 'number' }, rank: { type: 'integer' } } },
      },
      predicted: {
        type: 'object',
        description: "the heavy ranker's calibrated probability per head (engaged, click, like, …); weightedScore = Σ weight · probability + boosts",
        additionalProperties: { type: 'number' },
      },
      firstPass: { type: 'boolean', description: "the heavy ranker's cascade scored the item with its first pass only (each head's first trees; rank.cascade): weightedScore and the probabilities of the heads it weighs are that pass's" },
      weightedScore: { type: 'number', description: "the rankers' score before the mixer's rules" },
      rules: {
        type: 'array',
        description: 'every mixer rule that changed the score or the position, e.g. {"rule":"author_diversity","factor":0.625}',
        items: { type: 'object', required: ['rule'], properties: { rule: { type: 'string' }, factor: { type: 'number' } }, additionalProperties: true },
      },
      propensity: { type: 'number', description: 'probability that the serving policy put the item in its slot (below 1 with exploration)' },
    },
  },
  Feed: {
    type: 'object',
    properties: {
      items: { type: 'array', items: { $ref: '#/components/schemas/FeedItem' } },
      nextCursor: { type: ['string', 'null'] },
      requestId: { type: 'string' },
      variant: { type: 'string', description: 'the experiment variant that served the page (default outside experiments)' },
      degraded: { type: 'boolean', description: "true when the page is not the full pipeline's: a source was skipped, ranking failed and the chronological feed was served, the server was overloaded and the light ranker alone ordered the page, or it was busy and the heavy ranker scored only the light ranker's best feed.overload.reducedBudget candidates (feed.overload)" },
      degradedReasons: { type: 'array', items: { type: 'string' } },
    },
  },
} as const;

const ref = (name: keyof typeof schemas) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });
/** The For You feed's answer when the admission queue sheds the request (feed.overload). */
const shedResponse = {
  ...errorResponse('overloaded: the request waited too long in the admission queue (`feed.overload.shedAfterMs`, or twice `lightAfterMs` while the queue stands; error code `overloaded`); retry after the `Retry-After` seconds'),
  headers: { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' } } },
};
const json = (schema: unknown, description = 'OK') => ({ description, content: { 'application/json': { schema } } });

function batch(name: string, item: keyof typeof schemas, summary: string) {
  return {
    post: {
      summary,
      description: 'All-or-nothing: either every record of the batch is written durably, or none is (the error names the first bad field).',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', required: [name], properties: { [name]: { type: 'array', items: ref(item), maxItems: 10000 } } },
          },
        },
      },
      responses: { '200': json(ref('Accepted')), '400': errorResponse('invalid input; nothing was written'), '413': errorResponse('body too large') },
    },
  };
}

const userIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const limitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } };
const cursorParam = { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page' };

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Lenta API', version, description: 'An open For You feed engine: write users, items, follows and events; read ranked and chronological feeds.' },
    paths: {
      '/v1/users': {
        ...batch('users', 'User', 'Create or update users'),
        get: {
          summary: 'List known user ids',
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } }],
          responses: { '200': json({ type: 'object', properties: { users: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } } } }) },
        },
      },
      '/v1/items': batch('items', 'Item', 'Create or update items (posts)'),
      '/v1/follows': batch('follows', 'Follow', 'Add or remove follows, mutes and blocks'),
      '/v1/events': batch('events', 'Event', 'Record impressions and engagements'),
      '/v1/users/{id}/feed': {
        get: {
          summary: 'For You feed: candidate sources, rankers and the mixer; no item repeats across pages; each item explained',
          parameters: [
            userIdParam,
            limitParam,
            cursorParam,
            { name: 'exclude', in: 'query', schema: { type: 'string' }, description: 'comma-separated item ids not to serve' },
            { name: 'variant', in: 'query', schema: { type: 'string' }, description: "serve this variant instead of the user's assigned one (a configured variant, default, holdout, light-ranker, relevance-only)" },
            {
              name: 'explain',
              in: 'query',
              schema: { type: 'boolean', default: true },
              description: 'false drops the explanations (sources, probabilities, rules, propensity); true also adds stage timings',
            },
          ],
          responses: { '200': json(ref('Feed')), '400': errorResponse('bad parameter'), '503': shedResponse },
        },
      },
      '/v1/users/{id}/following': {
        get: {
          summary: 'Chronological feed of the posts of followed accounts, newest first',
          parameters: [userIdParam, limitParam, cursorParam],
          responses: { '200': json(ref('Feed')), '400': errorResponse('bad parameter') },
        },
      },
      '/v1/items/{id}/related': {
        get: {
          summary: 'Items related to an item: co-engaged items first (item-to-item graph and recent engagers), filled up with items sharing its tags and its author\'s other posts',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { ...limitParam, schema: { ...limitParam.schema, default: 20 } }],
          responses: {
            '200': json({
              type: 'object',
              properties: {
                itemId: { type: 'string' },
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['id', 'score', 'reason'],
                    properties: {
                      id: { type: 'string' },
                      score: { type: 'number', description: 'co-engagement weight (best 1); fill-up items score below every co-engaged one' },
                      authorId: { type: 'string' },
                      tags: { type: 'array', items: { type: 'string' } },
                      reason: { type: 'string', enum: ['co_engagement', 'same_tags', 'same_author'] },
                    },
                  },
                },
              },
            }),
            '400': errorResponse('bad parameter'),
            '404': errorResponse('unknown item (field `id`)'),
          },
        },
      },
      '/v1/users/{id}/who-to-follow': {
        get: {
          summary: 'Accounts to follow: followed by the accounts the user follows (weighted by affinity), from the user\'s communities, and popular accounts; never the user, followed, muted, blocked or blocking accounts',
          parameters: [userIdParam, { ...limitParam, schema: { ...limitParam.schema, default: 20 } }],
          responses: {
            '200': json({
              type: 'object',
              properties: {
                userId: { type: 'string' },
                coldStart: { type: 'boolean', description: 'true when nothing personal is known (unknown user, or no follows and no community): the popular accounts' },
                accounts: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'string' },
                      score: { type: 'number' },
                      reasons: {
                        type: 'array',
                        items: {
                          oneOf: [
                            {
                              type: 'object',
                              properties: {
                                reason: { const: 'followed_by_follows' },
                                count: { type: 'integer', description: 'follows of the user who follow the account' },
                                via: { type: 'array', maxItems: 3, items: { type: 'string' }, description: 'the strongest of those follows' },
                              },
                            },
                            { type: 'object', properties: { reason: { const: 'community' }, score: { type: 'number' } } },
                            { type: 'object', properties: { reason: { const: 'popular' } } },
                          ],
                        },
                      },
                    },
                  },
                },
              },
            }),
            '400': errorResponse('bad parameter'),
          },
        },
      },
      '/v1/trending': {
        get: {
          summary: 'Trending items: decayed engagements in the window relative to the steady rate of the next longer window, smoothed: ln(1+s)·(s+5)/(expected+5)',
          parameters: [
            { ...limitParam, schema: { ...limitParam.schema, default: 20 } },
            { name: 'tag', in: 'query', schema: { type: 'string' }, description: 'only items with this tag' },
            { name: 'window', in: 'query', schema: { type: 'string', default: '1d' }, description: 'a state window but the longest: 30m, 1d or 3d with the default `state.windows`' },
          ],
          responses: {
            '200': json({
              type: 'object',
              properties: {
                window: { type: 'string' },
                tag: { type: 'string' },
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'string' },
                      score: { type: 'number' },
                      count: { type: 'number', description: 'decayed positive engagements in the window' },
                      expected: { type: 'number', description: 'the count a steady rate over the baseline window would give' },
                      authorId: { type: 'string' },
                      createdAt: { type: 'string', format: 'date-time' },
                      tags: { type: 'array', items: { type: 'string' } },
                      text: { type: 'string' },
                    },
                  },
                },
              },
            }),
            '400': errorResponse('bad parameter (`limit` or `window`)'),
          },
        },
      },
      '/health': { get: { summary: 'Liveness and counts', responses: { '200': json({ type: 'object' }) } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain; version=0.0.4' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } } },
    },
    components: { schemas },
  };
}
