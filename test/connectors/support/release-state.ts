/**
 * The read test/fixtures/connector-state/ was captured from (capture-release-state.ts): one stream of
 * a small simulated account, read in full a few records a page, its STATE taken after a few pages.
 */
export const RELEASE_STATE = {
  simulator: { seed: 11, scale: 0.3 },
  stream: 'contacts',
  perPage: 4,
  afterStates: 3,
  singerEntry: {
    tap_stream_id: 'contacts',
    schema: { type: 'object', properties: {} },
    metadata: [{ breadcrumb: [], metadata: { selected: true } }],
  },
  airbyteEntry: {
    stream: { name: 'contacts', json_schema: {}, supported_sync_modes: ['full_refresh', 'incremental'] },
    sync_mode: 'incremental',
    destination_sync_mode: 'append_dedup',
  },
} as const;
