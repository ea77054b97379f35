import { createRequire } from 'node:module';
import type * as commander from 'commander';

/*
 * commander, loaded with require(): it is CommonJS, and a CommonJS package imported from an ES module
 * costs Node 20 a scan of its exports. With better-sqlite3 loaded the same way
 * (src/destinations/sqlite/sqlite-driver.ts) that is about 8 ms of CPU less before `run`'s first
 * request (issue 16). Every CLI file takes commander's classes from here.
 */

const loaded = createRequire(import.meta.url)('commander') as typeof commander;

export const Command = loaded.Command;
export type Command = commander.Command;
export const CommanderError = loaded.CommanderError;
export type CommanderError = commander.CommanderError;
