import type BetterSqlite3 from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { SqliteDatabase } from './sqlite.js';

/** Distinct statements kept: each filter combination and IN-list length is one; a few hundred cover a busy region. */
const MAX_STATEMENTS = 500;

/**
 * Prepared statements by their SQL text. Preparing parses and plans the SQL again each time (about a
 * twentieth of a listing's CPU under load); a statement is reused across calls instead, with fresh
 * parameters, so nothing of one call's data is kept for the next.
 */
export class StatementCache {
  private readonly statements = new LRUCache<string, BetterSqlite3.Statement>({ max: MAX_STATEMENTS });

  constructor(private readonly db: SqliteDatabase) {}

  get(sql: string): BetterSqlite3.Statement {
    return this.prepared(sql, false);
  }

  /** The statement in raw mode: rows as arrays of values in column order. */
  raw(sql: string): BetterSqlite3.Statement {
    return this.prepared(sql, true);
  }

  private prepared(sql: string, raw: boolean): BetterSqlite3.Statement {
    // A statement's mode is its own: a raw one is a different entry from a named one.
    const key = raw ? `raw:${sql}` : sql;
    let statement = this.statements.get(key);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (raw) statement.raw(true);
      this.statements.set(key, statement);
    }
    return statement;
  }
}
