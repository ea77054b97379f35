import { z } from 'zod';
import { OBJECTS, OBJECT_NAMES, hasCursor } from '../catalog/objects.js';
import type { JsonObject, ObjectSpec } from '../catalog/types.js';
import { sinceObjectsInWords } from '../catalog/describe.js';
import { DEFAULT_BASE_URL } from '../harvest/base-url.js';
import { CONCURRENCY, PER_PAGE } from '../limits.js';
import { recordSchema } from '../connectors/json-schema.js';
import type { StreamPlan } from '../connectors/message-destination.js';
import { ConfigError } from '../errors.js';

/*
 * Airbyte's SPEC, CATALOG and configured catalog (airbyte_protocol.yaml: ConnectorSpecification,
 * AirbyteCatalog / AirbyteStream, ConfiguredAirbyteCatalog / ConfiguredAirbyteStream), from our
 * catalog: an object added to src/catalog/objects.ts is a stream here with no other change.
 */

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

/** ConnectorSpecification: the config form Airbyte shows, validated again by parseConfig. */
export function connectorSpecification(): JsonObject {
  return {
    documentationUrl: 'https://github.com/harvest-sync/harvest-sync#use-it-from-airbyte',
    supportsIncremental: true,
    supported_destination_sync_modes: ['overwrite', 'append', 'append_dedup'],
    connectionSpecification: {
      $schema: DRAFT_07,
      title: 'Harvest (harvest-sync)',
      type: 'object',
      required: ['access_token', 'account_id'],
      additionalProperties: true,
      properties: {
        access_token: {
          type: 'string',
          title: 'Personal access token',
          description: 'Create one in Harvest: Settings → Developers → Personal access tokens.',
          airbyte_secret: true,
          order: 0,
        },
        account_id: {
          type: 'string',
          title: 'Account ID',
          description: 'Shown beside your personal access token.',
          pattern: '^[0-9]+$',
          examples: ['123456'],
          order: 1,
        },
        start_date: {
          type: 'string',
          title: 'Start date',
          description: `Optional: read ${sinceObjectsInWords()} dated from this day on. Empty: the whole history.`,
          format: 'date',
          pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
          examples: ['2024-01-01'],
          order: 2,
        },
        base_url: {
          type: 'string',
          title: 'API root',
          description: 'Harvest API root; change it only for a proxy or a test server.',
          default: DEFAULT_BASE_URL,
          order: 3,
        },
        per_page: {
          type: 'integer',
          title: 'Records per call',
          minimum: PER_PAGE.min,
          maximum: PER_PAGE.max,
          order: 4,
        },
        concurrency: {
          type: 'integer',
          title: 'Requests in flight',
          minimum: CONCURRENCY.min,
          maximum: CONCURRENCY.max,
          order: 5,
        },
        rate_limit: {
          type: 'string',
          title: 'Request budget',
          description: 'REQUESTS/SECONDS; default 100/15, Harvest’s published limit.',
          pattern: '^[0-9]+/[0-9]+(\\.[0-9]+)?$',
          order: 6,
        },
        user_agent: { type: 'string', title: 'User-Agent', order: 7 },
      },
    },
  };
}

function airbyteStream(spec: ObjectSpec): JsonObject {
  return {
    name: spec.name,
    json_schema: { $schema: DRAFT_07, ...recordSchema(spec) },
    supported_sync_modes: hasCursor(spec) ? ['full_refresh', 'incremental'] : ['full_refresh'],
    source_defined_cursor: hasCursor(spec),
    ...(hasCursor(spec) ? { default_cursor_field: [spec.cursorField] } : {}),
    source_defined_primary_key: [[spec.primaryKey]],
    is_resumable: true,
  };
}

/** AirbyteCatalog: every object of our catalog. */
export function airbyteCatalog(): JsonObject {
  return { streams: OBJECTS.map(airbyteStream) };
}

const configuredSchema = z.object(
  {
    streams: z.array(
      z
        .object({
          stream: z
            .object({
              name: z.string({ error: 'each configured stream needs stream.name' }),
              json_schema: z
                .object({ properties: z.record(z.string(), z.unknown()).optional() })
                .loose()
                .optional(),
            })
            .loose(),
          sync_mode: z.enum(['full_refresh', 'incremental'], {
            error: 'sync_mode must be full_refresh or incremental',
          }),
          destination_sync_mode: z.string().optional(),
        })
        .loose(),
      { error: 'the configured catalog must have a "streams" list' },
    ),
  },
  { error: 'the configured catalog must be a JSON object with a "streams" list' },
);

/**
 * The streams of a ConfiguredAirbyteCatalog, in catalog order: full_refresh streams are read in
 * full every time; fields missing from a configured json_schema (Airbyte's column selection) are
 * left out, except the primary key and cursor.
 */
export function configuredStreams(value: unknown): StreamPlan[] {
  const parsed = configuredSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`configured catalog: ${issue?.message ?? 'invalid'}`);
  }
  const chosen = new Map<string, StreamPlan>();
  for (const entry of parsed.data.streams) {
    const spec = OBJECTS.find((o) => o.name === entry.stream.name);
    if (!spec) {
      throw new ConfigError(
        `configured catalog: unknown stream ${JSON.stringify(entry.stream.name.slice(0, 80))}; streams: ${OBJECT_NAMES.join(', ')}`,
      );
    }
    const wanted = entry.stream.json_schema?.properties;
    const keep = new Set([spec.primaryKey, spec.cursorField, ...Object.keys(wanted ?? {})]);
    const all = Object.keys(recordSchema(spec).properties as object);
    const excluded = new Set(wanted && Object.keys(wanted).length > 0 ? all.filter((f) => !keep.has(f)) : []);
    chosen.set(spec.name, {
      spec,
      fullTable: entry.sync_mode === 'full_refresh' || !hasCursor(spec),
      excluded,
    });
  }
  return OBJECTS.filter((o) => chosen.has(o.name)).map((o) => chosen.get(o.name) as StreamPlan);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Each stream's saved position from a --state file: a list of AirbyteStateMessage of type STREAM
 * (what this source emits and the platform passes back), or a legacy object of stream → state.
 */
export function airbyteBookmarks(value: unknown): Record<string, unknown> {
  if (isObject(value)) return isObject(value.bookmarks) ? value.bookmarks : value;
  if (!Array.isArray(value)) throw new ConfigError('state: expected a list of STREAM state messages');
  const out: Record<string, unknown> = {};
  for (const message of value) {
    if (!isObject(message)) throw new ConfigError('state: every entry must be a state message object');
    if (message.type === 'GLOBAL') throw new ConfigError('state: GLOBAL state is not used by this source');
    if (message.type === 'LEGACY' || (message.type === undefined && isObject(message.data))) {
      if (isObject(message.data)) Object.assign(out, message.data);
      continue;
    }
    const stream = message.stream;
    const name =
      isObject(stream) && isObject(stream.stream_descriptor) ? stream.stream_descriptor.name : undefined;
    if (typeof name !== 'string')
      throw new ConfigError('state: a STREAM state has no stream_descriptor.name');
    if (isObject(stream) && stream.stream_state !== undefined) out[name] = stream.stream_state;
  }
  return out;
}
