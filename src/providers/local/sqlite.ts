import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);

/**
 * better-sqlite3, in the major version this Node runs safely. 13 (Node-API, prebuilt) on Node 22 and
 * later: 12 subclasses Node's `ObjectWrap`, whose destructor aborts the process on Node 24.19+ when a
 * statement is collected outside a JavaScript context. 12 (compiled at install) on Node 20, where 13
 * crashes. Both have the same API; `better-sqlite3-node20` is an npm alias of 12.
 */
export const Sqlite: typeof BetterSqlite3 =
  Number(process.versions.node.split('.')[0]) >= 22 ? require('better-sqlite3') : require('better-sqlite3-node20');

export type SqliteDatabase = BetterSqlite3.Database;
