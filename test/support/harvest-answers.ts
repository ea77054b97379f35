import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { sendJson, startServer, type TestServer } from '../harvest/helpers.js';

/*
 * Answers the real Harvest API was recorded sending (test/fixtures/harvest-recorded/responses.json),
 * replayed by real HTTP servers: Harvest's own 403 to a member token, its JSON 404, and the HTML
 * "Can't find page" it answers for a route the API does not have (what a wrong base URL meets).
 */

export interface RecordedAnswer {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const recorded = (
  JSON.parse(
    readFileSync(new URL('../fixtures/harvest-recorded/responses.json', import.meta.url), 'utf8'),
  ) as { error_responses: RecordedAnswer[] }
).error_responses;

/** The first recorded answer with this status whose Content-Type matches `type` (e.g. /html/, /json/). */
export function recordedAnswer(status: number, type: RegExp): RecordedAnswer {
  const answer = recorded.find((a) => a.status === status && type.test(a.headers['Content-Type'] ?? ''));
  if (!answer) throw new Error(`no recorded ${status} answer with a ${String(type)} Content-Type`);
  return answer;
}

/** Sends a recorded answer as Harvest did: status, Content-Type (and Hint), the body's bytes. */
export function replay(res: ServerResponse, answer: RecordedAnswer): void {
  const headers: Record<string, string> = {
    'Content-Type': answer.headers['Content-Type'],
    'Content-Length': String(Buffer.byteLength(answer.body)),
  };
  if (answer.headers.Hint) headers.Hint = answer.headers.Hint;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

/** Harvest's HTML page for a route its API does not have (a path without `/v2`, or `/v2/v2/…`). */
export const HTML_NOT_FOUND = recordedAnswer(404, /html/);
/** Harvest's 403 to a token whose role may not read the object. */
export const FORBIDDEN = recordedAnswer(403, /json/);
/** Harvest's JSON 404 (2024 shape). */
export const JSON_NOT_FOUND = recordedAnswer(404, /json/);

/** A server that is not Harvest's API: every request gets Harvest's HTML "Can't find page" 404. */
export function startHtmlNotFoundServer(): Promise<TestServer> {
  return startServer((_req, res) => replay(res, HTML_NOT_FOUND));
}

/**
 * Harvest for a token that may read nothing: `users/me` answers a member, every list (and the
 * company) Harvest's recorded 403.
 */
export function startNothingReadableServer(): Promise<TestServer> {
  return startServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/v2/users/me') {
      return sendJson(res, 200, {
        id: 2527916,
        first_name: 'Aaron',
        last_name: 'Burr',
        email: 'user2@example.com',
        access_roles: ['member'],
      });
    }
    replay(res, FORBIDDEN);
  });
}
