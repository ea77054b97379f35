/**
 * The error catalogue. Every error a user can see is one of these: a stable `code`, a one-line
 * `message` safe to print (never a token or a stack), and whether trying again may help.
 */
export class HarvestSyncError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Invalid user input: a flag, an environment variable, an API field. Exit code 2. */
export class ConfigError extends HarvestSyncError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/**
 * The value of a passed check (limits.ts `Checked`, described here by its shape: errors.ts imports
 * nothing); a ConfigError with the check's message when it was refused.
 */
export function valueOrThrow<T>(
  checked: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string },
): T {
  if (!checked.ok) throw new ConfigError(checked.message);
  return checked.value;
}

/** The catalog or a record breaks a schema rule (e.g. two fields flatten to one column name). */
export class CatalogError extends HarvestSyncError {
  constructor(message: string) {
    super('CATALOG_INVALID', message);
  }
}

/** A destination could not be opened, written or locked. */
export class DestinationError extends HarvestSyncError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'DESTINATION_FAILED', message, options);
  }
}

/** Another run holds the destination. */
export class DestinationBusyError extends DestinationError {
  constructor(message: string) {
    super(message, { code: 'DESTINATION_BUSY' });
  }
}

/** The run was asked to stop (SIGINT/SIGTERM, or a caller's AbortSignal). */
export class InterruptedError extends HarvestSyncError {
  constructor(message = 'interrupted') {
    super('INTERRUPTED', message);
  }
}

/** The message to show a user for any thrown value: ours as they are, others reduced to one line. */
export function userMessage(error: unknown): string {
  if (error instanceof HarvestSyncError) return error.message;
  if (error instanceof Error) return error.message.split('\n')[0];
  return String(error);
}
