import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';

/* Report calls spend a budget of their own (100 per 15 minutes): /metrics counts them apart. */

describe('metrics', () => {
  it('counts calls to the Reports API apart, within all API calls', async () => {
    const metrics = createMetrics();
    const request = (path: string) =>
      metrics.observe({ type: 'request', object: 'x', path, status: 200, ms: 5 });
    request('/v2/clients?per_page=2000');
    request('/v2/reports/time/clients?per_page=2000&from=20250101&to=20251231');
    request('/v2/invoices/7/payments?per_page=2000');
    const text = await metrics.render();
    expect(text).toMatch(/^harvest_sync_api_calls_total 3$/m);
    expect(text).toMatch(/^harvest_sync_report_api_calls_total 1$/m);
  });
});
