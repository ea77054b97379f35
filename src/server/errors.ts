import { HarvestSyncError } from '../errors.js';

/** Per-field messages of a refused request body, keyed by dotted path (`schedule.cron`). */
export type FieldErrors = Record<string, string>;

/**
 * An error the HTTP API answers with a given status. Its message is shown to the client as is, so it
 * is one line and never carries a secret.
 */
export class HttpError extends HarvestSyncError {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;
  readonly fields?: FieldErrors;

  constructor(
    status: HttpError['status'],
    message: string,
    options: { code?: string; fields?: FieldErrors; cause?: unknown } = {},
  ) {
    super(options.code ?? `HTTP_${status}`, message, { cause: options.cause });
    this.status = status;
    if (options.fields !== undefined) this.fields = options.fields;
  }
}

/** The JSON shape of every error the API sends. */
export interface ErrorBody {
  readonly error: { readonly message: string; readonly fields?: FieldErrors };
}

export function errorBody(message: string, fields?: FieldErrors): ErrorBody {
  return { error: fields === undefined ? { message } : { message, fields } };
}
