/**
 * Where the autotuner keeps its results and how many entries are there, read without assuming a file
 * format beyond JSON: a file holding an array counts its elements, an object its `entries` (array or
 * object) or else its keys. Kept apart from the rest of doctor so it follows the autotuner's cache
 * as that evolves.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cacheFolderFromEnv } from '../../lib/autotuner/cache';

/** One cache file. */
export interface CacheFile {
  file: string;
  bytes: number;
  /** Entries counted (undefined when the file is not JSON we can count; `error` says why). */
  entries?: number;
  error?: string;
}

/** The cache folder and its files. */
export interface TuningCacheReport {
  dir: string;
  /** Which setting chose `dir`. */
  from: 'NATTEN_CACHE_DIR' | 'XDG_CACHE_HOME' | 'home';
  exists: boolean;
  files: CacheFile[];
  /** Sum of the counted entries. */
  entries: number;
}

/** The autotuner's cache folder (lib/autotuner/cache.ts decides it) and which setting chose it. */
export function tuningCacheDir(env: NodeJS.ProcessEnv = process.env): Pick<TuningCacheReport, 'dir' | 'from'> {
  const from = env.NATTEN_CACHE_DIR ? 'NATTEN_CACHE_DIR' : env.XDG_CACHE_HOME ? 'XDG_CACHE_HOME' : 'home';
  return { dir: cacheFolderFromEnv(env), from };
}

function countEntries(value: unknown): number | undefined {
  if (Array.isArray(value)) return value.length;
  if (value === null || typeof value !== 'object') return undefined;
  const entries = (value as { entries?: unknown }).entries;
  if (Array.isArray(entries)) return entries.length;
  if (entries !== null && typeof entries === 'object') return Object.keys(entries).length;
  return Object.keys(value).length;
}

function readCacheFile(file: string): CacheFile {
  const bytes = fs.statSync(file).size;
  try {
    const entries = countEntries(JSON.parse(fs.readFileSync(file, 'utf8')));
    return entries === undefined ? { file, bytes, error: 'not a JSON array or object' } : { file, bytes, entries };
  } catch (e) {
    return { file, bytes, error: (e as Error).message };
  }
}

/** Reports the cache folder; never throws (an unreadable folder is reported as having no files). */
export function tuningCacheReport(env: NodeJS.ProcessEnv = process.env): TuningCacheReport {
  const where = tuningCacheDir(env);
  let names: string[] = [];
  let exists = false;
  try {
    names = fs.readdirSync(where.dir).filter((n) => n.endsWith('.json'));
    exists = true;
  } catch {
    // missing or unreadable: nothing tuned yet
  }
  const files: CacheFile[] = [];
  for (const n of names.sort()) {
    try {
      files.push(readCacheFile(path.join(where.dir, n)));
    } catch (e) {
      files.push({ file: path.join(where.dir, n), bytes: 0, error: (e as Error).message });
    }
  }
  return { ...where, exists, files, entries: files.reduce((s, f) => s + (f.entries ?? 0), 0) };
}
