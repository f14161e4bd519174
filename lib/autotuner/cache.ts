/**
 * The autotuner's cache: tuned configs in memory, backed by one JSON file per device identity under the
 * cache folder (`NATTEN_CACHE_DIR`, else `$XDG_CACHE_HOME/natten-node`, else `~/.cache/natten-node`;
 * `NATTEN_AUTOTUNE_CACHE=0`: memory only). A file is read once, when its device is first tuned for; every
 * new entry rewrites it off the JS thread, atomically (a temporary file renamed over it), after merging what
 * other processes added to it meanwhile, so processes sharing the folder never leave a torn file. A corrupt
 * file, one of another format version or another device, and a folder that cannot be written each give one
 * warning (`NattenWarning`, code `NATTEN_AUTOTUNE_CACHE`) and leave the cache working in memory.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { argTypeError, rangeError } from '../errors';
import { isForwardKernel } from '../ops/fused_configs';
import type { AutotuneCacheEntry, CandidateTiming, DeviceIdentity, TunedConfig } from './types';

/** The cache files' format name and version. */
export const CACHE_FORMAT = 'natten-node-autotune';
export const CACHE_VERSION = 1;
/** Code of the cache's warnings. */
export const CACHE_WARNING_CODE = 'NATTEN_AUTOTUNE_CACHE';

/** What `autotuner.cache.export()` returns and `import()` takes: entries of any devices. */
export interface AutotuneCacheExport {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_VERSION;
  entries: AutotuneCacheEntry[];
}

/** The cache folder the environment names: NATTEN_CACHE_DIR, else $XDG_CACHE_HOME/natten-node, else
 * ~/.cache/natten-node (the one rule; `natten-node doctor` reports it too). */
export function cacheFolderFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATTEN_CACHE_DIR) return path.resolve(env.NATTEN_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'natten-node');
  return path.join(os.homedir(), '.cache', 'natten-node');
}

/** The cache folder the environment names, or null for a memory-only cache (NATTEN_AUTOTUNE_CACHE=0). */
export function cacheDirFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.NATTEN_AUTOTUNE_CACHE === '0' ? null : cacheFolderFromEnv(env);
}

const identityText = (d: DeviceIdentity): string =>
  JSON.stringify([d.name, d.computeCapability, d.multiProcessorCount, d.driverVersion, d.build]);

const sameIdentity = (a: DeviceIdentity, b: DeviceIdentity): boolean => identityText(a) === identityText(b);

// ---- Reading untrusted JSON (a file, an import) ----

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isShape = (x: unknown): x is number[] =>
  Array.isArray(x) && x.length >= 1 && x.length <= 3 && x.every((v) => Number.isInteger(v) && v >= 1);
const msOf = (x: unknown): number => (typeof x === 'number' && x >= 0 ? x : NaN);

function parseConfig(x: unknown): TunedConfig | null {
  if (!isObject(x) || !isShape(x.qTileShape) || !isShape(x.kvTileShape)) return null;
  const c: TunedConfig = { qTileShape: [...x.qTileShape], kvTileShape: [...x.kvTileShape] };
  if (x.kernel !== undefined) {
    if (!isForwardKernel(x.kernel)) return null;
    c.kernel = x.kernel;
  }
  if (x.dq !== undefined) {
    if (x.dq !== 'kv-parallel' && x.dq !== 'q-parallel') return null;
    c.dq = x.dq;
  }
  return c;
}

function parseIdentity(x: unknown): DeviceIdentity | null {
  if (!isObject(x)) return null;
  const { name, computeCapability, multiProcessorCount, driverVersion, build } = x;
  if (typeof name !== 'string' || typeof computeCapability !== 'string' || typeof build !== 'string') return null;
  if (typeof multiProcessorCount !== 'number' || typeof driverVersion !== 'number') return null;
  return { name, computeCapability, multiProcessorCount, driverVersion, build };
}

function parseTiming(x: unknown): CandidateTiming | null {
  const config = isObject(x) ? parseConfig(x.config) : null;
  if (!config || !isObject(x)) return null;
  const t: CandidateTiming = { config, ms: msOf(x.ms) };
  if (typeof x.error === 'string') t.error = x.error;
  return t;
}

/** An entry from JSON, or null when it is not one. */
function parseEntry(x: unknown): AutotuneCacheEntry | null {
  if (!isObject(x) || typeof x.key !== 'string' || (x.pass !== 'forward' && x.pass !== 'backward')) return null;
  const device = parseIdentity(x.device);
  const best = parseConfig(x.best);
  const dflt = parseConfig(x.default);
  if (!device || !best || !dflt || !Array.isArray(x.candidates)) return null;
  const candidates = x.candidates.map(parseTiming);
  if (candidates.some((c) => c === null)) return null;
  return {
    key: x.key,
    device,
    pass: x.pass,
    best,
    bestMs: msOf(x.bestMs),
    default: dflt,
    defaultMs: msOf(x.defaultMs),
    candidates: candidates as CandidateTiming[],
    tunedAt: typeof x.tunedAt === 'string' ? x.tunedAt : '',
  };
}

/** Why a cache file cannot be used for `identity` ('' when it can), and its entries. */
function parseFile(text: string, identity: DeviceIdentity): { problem: string; entries: AutotuneCacheEntry[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { problem: `it is corrupt (${(e as Error).message})`, entries: [] };
  }
  if (!isObject(doc) || doc.format !== CACHE_FORMAT || !Array.isArray(doc.entries))
    return { problem: 'it is corrupt (not a natten-node autotuner cache)', entries: [] };
  if (doc.version !== CACHE_VERSION)
    return {
      problem: `it has format version ${String(doc.version)}, this natten-node reads ${CACHE_VERSION}`,
      entries: [],
    };
  const device = parseIdentity(doc.device);
  if (!device || !sameIdentity(device, identity))
    return { problem: `it was written for another GPU or build (${identityText(device ?? identity)})`, entries: [] };
  const entries = doc.entries.map(parseEntry);
  if (entries.some((e) => e === null || !sameIdentity(e.device, identity)))
    return { problem: 'it is corrupt (an entry is malformed)', entries: [] };
  return { problem: '', entries: entries as AutotuneCacheEntry[] };
}

/** JSON of an entry (NaN times as null). */
const entryJson = (e: AutotuneCacheEntry): unknown => JSON.parse(JSON.stringify(e));

/** The tuning cache of one process: memory, and the files of the devices it has seen. */
export class AutotuneCache {
  /** Entries per device identity text, then per signature. */
  private readonly memory = new Map<string, Map<string, AutotuneCacheEntry>>();
  /** The last write of each file (writes of one file run one after another). */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly warned = new Set<string>();

  /** `dir`: the cache folder, or null to keep entries in memory only. */
  constructor(readonly dir: string | null) {}

  /** The file of a device identity's entries (null for a memory-only cache). */
  fileFor(identity: DeviceIdentity): string | null {
    if (this.dir === null) return null;
    const hash = createHash('sha256').update(identityText(identity)).digest('hex').slice(0, 16);
    return path.join(this.dir, `autotune-v${CACHE_VERSION}-${hash}.json`);
  }

  /** The entry of a signature on a device, if tuned (here, by another process, or imported). */
  get(identity: DeviceIdentity, key: string): AutotuneCacheEntry | undefined {
    return this.device(identity).get(key);
  }

  /** Adds an entry (replacing one of its signature) and schedules the rewrite of its device's file. */
  set(entry: AutotuneCacheEntry): void {
    this.device(entry.device).set(entry.key, entry);
    this.persist(entry.device);
  }

  /** Reads a device's file now if it was not read yet (list() then shows its entries). */
  load(identity: DeviceIdentity): void {
    this.device(identity);
  }

  /** Every entry in memory (of the devices seen so far, and imported ones). */
  list(): AutotuneCacheEntry[] {
    return [...this.memory.values()].flatMap((m) => [...m.values()]);
  }

  /** The entries as a JSON-ready object (for `import` in another process or machine). */
  export(): AutotuneCacheExport {
    return {
      format: CACHE_FORMAT,
      version: CACHE_VERSION,
      entries: this.list().map(entryJson) as AutotuneCacheEntry[],
    };
  }

  /** Adds the entries of an export (an object, or its JSON text): each is used on the device and build it
   * was tuned on, and written to that device's file. Returns how many were added. Throws a RangeError
   * (ERR_NATTEN_INVALID_ARG_VALUE) for data that is not an export, naming what is wrong. */
  import(data: AutotuneCacheExport | string): number {
    let doc: unknown = data;
    if (typeof data === 'string') {
      try {
        doc = JSON.parse(data);
      } catch (e) {
        throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `import(data): not JSON (${(e as Error).message})`);
      }
    }
    if (!isObject(doc)) throw argTypeError('import(data)', 'an autotuner cache export or its JSON', data);
    if (doc.format !== CACHE_FORMAT || doc.version !== CACHE_VERSION || !Array.isArray(doc.entries)) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `import(data): expected {format: '${CACHE_FORMAT}', version: ${CACHE_VERSION}, entries: [...]}, got format ` +
          `${JSON.stringify(doc.format)}, version ${JSON.stringify(doc.version)}`,
      );
    }
    const entries = doc.entries.map(parseEntry);
    const bad = entries.findIndex((e) => e === null);
    if (bad >= 0) throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `import(data): entries[${bad}] is malformed`);
    for (const e of entries as AutotuneCacheEntry[]) this.device(e.device).set(e.key, e);
    for (const e of entries as AutotuneCacheEntry[]) this.persist(e.device);
    return entries.length;
  }

  /** Forgets every entry, in memory and on disk (the files of this format version in the folder). */
  async clear(): Promise<void> {
    for (const m of this.memory.values()) m.clear();
    await this.flush();
    if (this.dir === null) return;
    let names: string[] = [];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return; // no folder: nothing on disk
    }
    const mine = new RegExp(`^autotune-v${CACHE_VERSION}-[0-9a-f]{16}\\.json$`);
    await Promise.all(
      names.filter((n) => mine.test(n)).map((n) => fs.promises.rm(path.join(this.dir!, n), { force: true })),
    );
  }

  /** Resolves once every scheduled file write has finished (successfully or with its warning). */
  async flush(): Promise<void> {
    // A finished write removes itself (before Promise.all sees it settle); later ones may have been added.
    for (let pending = [...this.writes.values()]; pending.length; pending = [...this.writes.values()])
      await Promise.all(pending);
  }

  /** The entries of a device, its file read the first time. */
  private device(identity: DeviceIdentity): Map<string, AutotuneCacheEntry> {
    const id = identityText(identity);
    let m = this.memory.get(id);
    if (m) return m;
    m = new Map();
    this.memory.set(id, m);
    // Read once per device and process, synchronously: a small file, and the op that asks needs the answer.
    for (const e of this.readFile(identity, true)) m.set(e.key, e);
    return m;
  }

  /** The usable entries of a device's file; `warn`: say once why a file that exists cannot be used. */
  private readFile(identity: DeviceIdentity, warn: boolean): AutotuneCacheEntry[] {
    const file = this.fileFor(identity);
    if (file === null) return [];
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // No file (or no folder) yet is the normal first run; a folder that cannot be made warns at the write.
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && warn)
        this.warnOnce(`read ${file}`, `cannot read the autotuner cache ${file} (${(e as Error).message})`);
      return [];
    }
    const { problem, entries } = parseFile(text, identity);
    if (problem && warn)
      this.warnOnce(
        `read ${file}`,
        `ignoring the autotuner cache ${file}: ${problem}; it is rewritten when a problem is tuned`,
      );
    return entries;
  }

  /** Schedules the rewrite of a device's file after the writes before it. */
  private persist(identity: DeviceIdentity): void {
    const file = this.fileFor(identity);
    if (file === null) return;
    const write = (this.writes.get(file) ?? Promise.resolve()).then(() => this.write(identity, file));
    this.writes.set(file, write);
    void write.then(() => {
      if (this.writes.get(file) === write) this.writes.delete(file);
    });
  }

  /** Writes a device's entries, merged with those other processes wrote meanwhile, atomically. Never throws. */
  private async write(identity: DeviceIdentity, file: string): Promise<void> {
    const m = this.device(identity);
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      let text = '';
      try {
        text = await fs.promises.readFile(file, 'utf8');
      } catch {
        // no file yet
      }
      if (text) for (const e of parseFile(text, identity).entries) if (!m.has(e.key)) m.set(e.key, e);
      const doc = {
        format: CACHE_FORMAT,
        version: CACHE_VERSION,
        device: identity,
        entries: [...m.values()].map(entryJson),
      };
      await fs.promises.writeFile(tmp, JSON.stringify(doc, null, 1));
      await fs.promises.rename(tmp, file);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      this.warnOnce(
        `write ${path.dirname(file)}`,
        `cannot write the autotuner cache in ${path.dirname(file)} (${(e as Error).message}); tuned configs are ` +
          'kept in memory for this process only (set NATTEN_CACHE_DIR to a writable folder, or NATTEN_AUTOTUNE_CACHE=0)',
      );
    }
  }

  private warnOnce(what: string, message: string): void {
    if (this.warned.has(what)) return;
    this.warned.add(what);
    process.emitWarning(`natten-node: ${message}`, { code: CACHE_WARNING_CODE, type: 'NattenWarning' });
  }
}
