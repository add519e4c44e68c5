import type BetterSqlite3 from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { SqliteDatabase } from './sqlite.js';

/** Distinct statements kept of each mode: each filter combination and IN-list length is one; a few hundred cover a busy region. */
const MAX_STATEMENTS = 500;

/**
 * Prepared statements by their SQL text. Preparing parses and plans the SQL again each time (about a
 * twentieth of a listing's CPU under load); a statement is reused across calls instead, with fresh
 * parameters, so nothing of one call's data is kept for the next.
 */
export class StatementCache {
  // A statement's mode is its own: raw statements are kept apart from named ones.
  private readonly named = new LRUCache<string, BetterSqlite3.Statement>({ max: MAX_STATEMENTS });
  private readonly raws = new LRUCache<string, BetterSqlite3.Statement>({ max: MAX_STATEMENTS });

  constructor(private readonly db: SqliteDatabase) {}

  get(sql: string): BetterSqlite3.Statement {
    return this.prepared(this.named, sql, false);
  }

  /** The statement in raw mode: rows as arrays of values in column order. */
  raw(sql: string): BetterSqlite3.Statement {
    return this.prepared(this.raws, sql, true);
  }

  private prepared(cache: LRUCache<string, BetterSqlite3.Statement>, sql: string, raw: boolean): BetterSqlite3.Statement {
    let statement = cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (raw) statement.raw(true);
      cache.set(sql, statement);
    }
    return statement;
  }
}
