import { z } from 'zod';
import { OBJECTS, OBJECT_NAMES, hasCursor } from '../catalog/objects.js';
import type { ObjectSpec } from '../catalog/types.js';
import { recordSchema, type JsonSchema } from '../connectors/json-schema.js';
import type { StreamPlan } from '../connectors/message-destination.js';
import { ConfigError } from '../errors.js';

/*
 * The Singer catalog (Singer spec, docs/DISCOVERY_MODE.md "The Catalog" and "Metadata"): one entry
 * per catalog object, its JSON Schema, key properties, replication key and method, and metadata
 * addressed by breadcrumbs ([] for the stream, ["properties", field] for a top-level field).
 */

export type ReplicationMethod = 'INCREMENTAL' | 'FULL_TABLE';

interface MetadataEntry {
  readonly breadcrumb: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface SingerStream {
  readonly tap_stream_id: string;
  readonly stream: string;
  readonly schema: JsonSchema;
  readonly key_properties: readonly string[];
  readonly replication_method: ReplicationMethod;
  readonly replication_key?: string;
  readonly metadata: readonly MetadataEntry[];
}

/** Fields a target always gets: the key, and the replication key of an incremental stream. */
function automaticFields(spec: ObjectSpec): Set<string> {
  return new Set([spec.primaryKey, ...(hasCursor(spec) ? [spec.cursorField] : [])]);
}

function streamEntry(spec: ObjectSpec): SingerStream {
  const schema = recordSchema(spec);
  const automatic = automaticFields(spec);
  const method: ReplicationMethod = hasCursor(spec) ? 'INCREMENTAL' : 'FULL_TABLE';
  const metadata: MetadataEntry[] = [
    {
      breadcrumb: [],
      metadata: {
        inclusion: 'available',
        // reports spend a budget of their own: listed, not selected unless asked for
        selected: spec.report === undefined,
        'selected-by-default': spec.report === undefined,
        ...(spec.report ? { 'harvest-sync-report': true } : {}),
        'table-key-properties': [spec.primaryKey],
        'schema-name': spec.name,
        'replication-method': method,
        ...(hasCursor(spec)
          ? { 'valid-replication-keys': [spec.cursorField], 'replication-key': spec.cursorField }
          : { 'forced-replication-method': 'FULL_TABLE' }),
      },
    },
    ...Object.keys(schema.properties as object).map((field) => ({
      breadcrumb: ['properties', field],
      metadata: automatic.has(field)
        ? { inclusion: 'automatic' }
        : { inclusion: 'available', selected: true, 'selected-by-default': true },
    })),
  ];
  return {
    tap_stream_id: spec.name,
    stream: spec.name,
    schema,
    key_properties: [spec.primaryKey],
    replication_method: method,
    ...(hasCursor(spec) ? { replication_key: spec.cursorField } : {}),
    metadata,
  };
}

/** The output of `--discover`: every object of the catalog, all selected. */
export function discoverCatalog(): { streams: SingerStream[] } {
  return { streams: OBJECTS.map(streamEntry) };
}

const catalogSchema = z.object(
  {
    streams: z.array(
      z.object({
        tap_stream_id: z.string().optional(),
        stream: z.unknown().optional(),
        replication_method: z.string().optional(),
        schema: z.object({ selected: z.boolean().optional() }).loose().optional(),
        metadata: z
          .array(z.object({ breadcrumb: z.array(z.string()), metadata: z.object({}).loose() }))
          .optional(),
      }),
      { error: 'the catalog must have a "streams" list' },
    ),
  },
  { error: 'the catalog must be a JSON object with a "streams" list' },
);

type CatalogEntry = z.output<typeof catalogSchema>['streams'][number];

/**
 * The streams a `--catalog` (or legacy `--properties`) file selects, in catalog order, each with
 * its replication method and deselected fields. A stream is selected by its `selected` metadata
 * (or, absent that, `selected-by-default`, then the legacy `schema.selected`); a field is left out
 * only when its metadata says `"selected": false` and it is not automatic.
 */
export function selectedStreams(value: unknown): StreamPlan[] {
  const parsed = catalogSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`catalog: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const chosen = new Map<string, StreamPlan>();
  for (const entry of parsed.data.streams) {
    const name = entry.tap_stream_id ?? (typeof entry.stream === 'string' ? entry.stream : '');
    const spec = OBJECTS.find((o) => o.name === name);
    if (!spec) {
      throw new ConfigError(
        `catalog: unknown stream ${JSON.stringify(name.slice(0, 80))}; streams: ${OBJECT_NAMES.join(', ')}`,
      );
    }
    const plan = planOf(spec, entry);
    if (plan) chosen.set(name, plan);
  }
  return OBJECTS.filter((o) => chosen.has(o.name)).map((o) => chosen.get(o.name) as StreamPlan);
}

function planOf(spec: ObjectSpec, entry: CatalogEntry): StreamPlan | null {
  const metadata = entry.metadata ?? [];
  const root = metadata.find((m) => m.breadcrumb.length === 0)?.metadata ?? {};
  const selected = root.selected ?? root['selected-by-default'] ?? entry.schema?.selected ?? false;
  if (selected !== true) return null;
  const method = root['replication-method'] ?? entry.replication_method ?? 'INCREMENTAL';
  if (method !== 'INCREMENTAL' && method !== 'FULL_TABLE') {
    throw new ConfigError(
      `catalog: stream ${spec.name} has replication-method ${JSON.stringify(method)}; use INCREMENTAL or FULL_TABLE`,
    );
  }
  const automatic = automaticFields(spec);
  const excluded = new Set<string>();
  for (const { breadcrumb, metadata: md } of metadata) {
    if (breadcrumb.length === 2 && breadcrumb[0] === 'properties' && md.selected === false) {
      if (!automatic.has(breadcrumb[1]) && md.inclusion !== 'automatic') excluded.add(breadcrumb[1]);
    }
  }
  return { spec, fullTable: method === 'FULL_TABLE' || !hasCursor(spec), excluded };
}
