/**
 * The autotuner's public face (README "Autotuner"): `useAutotuner`, `isAutotunerEnabled`, `tune`, and
 * `autotuner.cache` to list, export, import and clear tuned configs.
 */
import { native } from '../native';
import { deviceName } from '../device';
import type { AutotuneCacheExport } from './cache';
import { processTuner } from './tuner';
import type { AutotuneCacheEntry } from './types';

export { useAutotuner, isAutotunerEnabled } from './settings';
export type { AutotunerOptions } from './settings';
export { tune } from './tune';
export type { TuneProblem, TuneOptions, TuneProgress, TuneResult, TimedConfig } from './tune';
export type { AutotuneCacheExport } from './cache';
export type {
  AutotuneCacheEntry,
  AutotuneTimer,
  CandidateTiming,
  DeviceIdentity,
  TimerOutcome,
  TuneCandidate,
  TunedConfig,
  TuneJob,
  TunePass,
} from './types';

/** Reads the cache files of every device the timer tunes on, so list() and export() include them. */
function loadVisibleDevices(): void {
  const t = processTuner();
  const devices = [deviceName(-1), ...Array.from({ length: native.deviceCount() }, (_, i) => deviceName(i))];
  for (const d of devices) if (t.timer.tunes(d)) t.cache.load(t.timer.identity(d));
}

/** The autotuner's cache of tuned configs (memory and the cache folder). */
export const autotuner = {
  cache: {
    /** The cache folder (null: memory only, NATTEN_AUTOTUNE_CACHE=0). */
    get dir(): string | null {
      return processTuner().cache.dir;
    },
    /** Every tuned problem known to this process: its devices' files and what it tuned or imported. */
    list(): AutotuneCacheEntry[] {
      loadVisibleDevices();
      return processTuner().cache.list();
    },
    /** list() as a JSON-ready object, to ship tuned configs with an application (see import). */
    export(): AutotuneCacheExport {
      loadVisibleDevices();
      return processTuner().cache.export();
    },
    /** Adds the entries of an export (object or JSON text) and writes them to the cache folder; each applies
     * on the device and build it was tuned on. Returns how many entries were added. */
    import(data: AutotuneCacheExport | string): number {
      return processTuner().cache.import(data);
    },
    /** Forgets every tuned config, in memory and in the cache folder. */
    clear(): Promise<void> {
      return processTuner().cache.clear();
    },
    /** Resolves once the cache files written so far are on disk. */
    flush(): Promise<void> {
      return processTuner().cache.flush();
    },
  },
};
