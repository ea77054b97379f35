import { OBJECTS } from '../catalog/objects.js';
import { userMessage } from '../errors.js';
import { HarvestClient } from '../harvest/client.js';
import type { ConnectionCheck } from '../harvest/types.js';
import { findObject } from '../catalog/objects.js';

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
      message: `connection test failed: ${userMessage(error)}`,
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
      : `connection test failed: the token of ${who} can read none of the selected objects`,
  };
}
