import { OBJECTS, findObject } from '../catalog/objects.js';
import { ConfigError, userMessage } from '../errors.js';
import { DEFAULT_BASE_URL, normaliseBaseUrl } from '../harvest/base-url.js';
import { HarvestClient } from '../harvest/client.js';
import { HarvestApiError, reasonsLine } from '../harvest/errors.js';
import type { ConnectionCheck } from '../harvest/types.js';

/** Hevo's TEST & CONTINUE, as the CLI, the API and the UI show it. */
export interface ConnectionTestResult {
  /** True when the token and account work and at least one selected object is readable. */
  readonly ok: boolean;
  readonly user: { readonly id: number; readonly name: string; readonly email: string } | null;
  readonly company: string | null;
  readonly admin: boolean;
  readonly objects: ReadonlyArray<{
    readonly name: string;
    readonly readable: boolean;
    readonly reason: string | null;
  }>;
  /** One line: why it failed, or a summary when it passed. Never contains the token. */
  readonly message: string;
}

export interface ConnectionTestInput {
  readonly token: string;
  readonly accountId: string;
  readonly baseUrl: string;
  /** Object names to check; default all. */
  readonly objects?: readonly string[];
  readonly signal?: AbortSignal;
  /** For tests: the client to use instead of a HarvestClient built from the fields above. */
  readonly client?: Pick<HarvestClient, 'checkConnection'>;
}

/** Checks token, account id, admin rights and which objects are readable. Never throws. */
export async function testConnection(input: ConnectionTestInput): Promise<ConnectionTestResult> {
  const objects = input.objects ? input.objects.map(findObject).filter((o) => o !== undefined) : OBJECTS;
  let check: ConnectionCheck;
  try {
    const client =
      input.client ??
      new HarvestClient({
        token: input.token,
        accountId: input.accountId,
        baseUrl: input.baseUrl,
        // A connection test answers a person waiting on a form: fail fast rather than retry for minutes.
        retry: { maxAttempts: 2 },
        timeoutMs: 15_000,
      });
    check = await client.checkConnection(objects, input.signal);
  } catch (error) {
    return {
      ok: false,
      user: null,
      company: null,
      admin: false,
      objects: [],
      message: `connection test failed: ${failureLine(error, input.baseUrl)}`,
    };
  }
  const readable = check.objects.filter((o) => o.readable);
  const ok = readable.length > 0;
  const who = `${check.user.name} <${check.user.email}>`;
  return {
    ok,
    user: check.user,
    company: check.company?.name ?? null,
    admin: check.isAdmin,
    objects: check.objects.map((o) => ({ name: o.name, readable: o.readable, reason: o.reason ?? null })),
    message: ok
      ? `connected as ${who}${check.isAdmin ? ' (administrator)' : ''}: ${readable.length} of ${check.objects.length} objects readable`
      : `connection test failed: the token of ${who} can read none of the selected objects — ${reasonsLine(check.objects)}`,
  };
}

/**
 * Why the test failed, in our own words only. The daemon tests whatever URL it is given, so
 * anything but Harvest's own answer about the token (no answer, a closed port, an HTML page, a
 * proxy's error, a JSON that is not Harvest's) gives the same line: it must not tell what listens
 * at an address, nor echo what it said.
 */
function failureLine(error: unknown, baseUrl: string): string {
  if (error instanceof ConfigError) return userMessage(error);
  // Harvest's 401 (its JSON body checked by the client): our fixed text, nothing of the answer
  if (error instanceof HarvestApiError && error.code === 'HARVEST_UNAUTHORIZED') return error.message;
  return `could not reach Harvest at ${shownUrl(baseUrl)}: check the Harvest API URL (Harvest's own is ${DEFAULT_BASE_URL}), or try again later`;
}

function shownUrl(baseUrl: string): string {
  try {
    return normaliseBaseUrl(baseUrl);
  } catch {
    return 'the Harvest API URL';
  }
}
