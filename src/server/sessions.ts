import type { Clock } from '../clock.js';
import { generateSecret, sha256 } from './credentials.js';

export interface Session {
  /** Sent by the client in `X-CSRF-Token` (or a form's `_csrf`) on every state-changing request. */
  readonly csrfToken: string;
  /** The password generation it was opened under: a new password (from any process) ends it. */
  readonly generation: string;
  readonly createdAt: number;
  /** Absolute end, whatever the activity. */
  readonly expiresAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  /** Absolute lifetime of a session. Default 12 h. */
  readonly ttlMs?: number;
  /** A session unused this long ends. Default 2 h. */
  readonly idleMs?: number;
  /** Oldest sessions are dropped beyond this, so memory stays bounded whatever the logins. */
  readonly maxSessions?: number;
}

/**
 * Server-side sessions, in memory: a restart logs everyone out, which is acceptable for a single-admin
 * daemon and keeps session ids out of every file. Keys are SHA-256 digests of the cookie value, so a
 * heap dump does not hand out live cookies. Each session carries the generation of the password it
 * was opened under; `get` is given the current one, so `serve --set-password` run by another process
 * ends every session of a running daemon on its next request.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly idleMs: number;
  private readonly maxSessions: number;

  constructor(
    private readonly clock: Clock,
    options: SessionOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.idleMs = options.idleMs ?? 2 * 3600_000;
    this.maxSessions = options.maxSessions ?? 1000;
  }

  create(generation = ''): { readonly id: string; readonly session: Session } {
    const now = this.clock.now();
    this.prune(now);
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const id = generateSecret();
    const session: Session = {
      csrfToken: generateSecret(),
      generation,
      createdAt: now,
      expiresAt: now + this.ttlMs,
      lastSeenAt: now,
    };
    this.sessions.set(sha256(id), session);
    return { id, session };
  }

  /** The live session for a cookie value, touched; null when unknown, expired or of another password. */
  get(id: string, generation = ''): Session | null {
    const key = sha256(id);
    const session = this.sessions.get(key);
    if (!session) return null;
    const now = this.clock.now();
    if (
      now >= session.expiresAt ||
      now - session.lastSeenAt >= this.idleMs ||
      session.generation !== generation
    ) {
      this.sessions.delete(key);
      return null;
    }
    session.lastSeenAt = now;
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(sha256(id));
  }

  /** Ends every session, e.g. after a password change. */
  clear(): void {
    this.sessions.clear();
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(now: number): void {
    for (const [key, session] of this.sessions) {
      if (now >= session.expiresAt || now - session.lastSeenAt >= this.idleMs) this.sessions.delete(key);
    }
  }
}
