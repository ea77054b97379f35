/**
 * A request budget shared with other processes calling the same Harvest account (several workers on
 * several machines). The client asks it after its own limiter, so both hold: its own window, and
 * the account's as every process together sees it. Implemented over PostgreSQL by the control layer.
 */
export interface SharedBudget {
  /** Waits until the account's budget has room; rejects with InterruptedError if `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<SharedGrant>;
  /** The response to the grant's request arrived (or the attempt ended): its slot runs one more window. */
  settle(grant: SharedGrant): void;
  /** Harvest answered 429 to the grant's request: every process pauses and lowers the limit. */
  onRateLimited(grant: SharedGrant, pauseMs: number): void;
}

export interface SharedGrant {
  readonly id: number;
  /** Requests the budget counted in the window when this one was granted. */
  readonly inWindow: number;
}
