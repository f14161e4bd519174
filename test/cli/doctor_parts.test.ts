// doctor's pure parts: the driver/runtime/architecture diagnosis and the tuning-cache report.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { archSupport, diagnoseCuda, type CudaFacts } from '../../cli/doctor/cuda_fit';
import { tuningCacheDir, tuningCacheReport } from '../../cli/doctor/tuning_cache';

const ARCHS = ['80-real', '86-real', '89-real', '90a-real', '80-virtual'];
const healthy: CudaFacts = {
  cudaBuild: true,
  driverVersion: 13000,
  runtimeVersion: 13000,
  deviceStatus: '',
  archs: ARCHS,
  gpus: ['9.0'],
  nvidiaDriverLoaded: true,
};
const levels = (f: CudaFacts): string[] => diagnoseCuda(f).map((x) => x.level);

describe('archSupport', () => {
  it.each([
    ['9.0', 'sass'],
    ['8.0', 'sass'],
    ['8.6', 'sass'],
    ['8.7', 'sass'], // 86-real runs on 8.7 (same major, higher minor)
    ['10.0', 'ptx'], // only the compute_80 PTX fits
    ['7.5', 'none'],
  ])('compute capability %s gets %s', (cc, want) => expect(archSupport(cc, ARCHS)).toBe(want));

  it('90a SASS runs on 9.0 only', () => expect(archSupport('9.0', ['90a-real'])).toBe('sass'));
  it('a bare number compiles SASS and PTX', () => expect(archSupport('9.0', ['80'])).toBe('ptx'));
});

describe('diagnoseCuda', () => {
  it('a driver as new as the runtime and a covered GPU is fine', () => expect(levels(healthy)).toEqual(['ok']));

  it('a driver of an older CUDA major version is an error naming both versions', () => {
    const f = diagnoseCuda({ ...healthy, driverVersion: 12040, deviceStatus: 'cudaErrorInsufficientDriver', gpus: [] });
    expect(f[0].level).toBe('error');
    expect(f[0].message).toContain('CUDA up to 12.4');
    expect(f[0].message).toContain('built with CUDA 13.0');
  });

  it('an older minor version of the same major is a warning', () =>
    expect(levels({ ...healthy, driverVersion: 12020, runtimeVersion: 12080 })).toEqual(['warning']));

  it('a GPU without a kernel image is an error; one on PTX a warning', () => {
    expect(diagnoseCuda({ ...healthy, archs: ['90a-real'], gpus: ['8.0'] })[0]).toMatchObject({ level: 'error' });
    expect(levels({ ...healthy, gpus: ['12.0'] })).toEqual(['warning', 'ok']);
  });

  it('no driver with a CUDA build is a warning; a CPU-only build on a GPU machine says how to rebuild', () => {
    expect(levels({ ...healthy, driverVersion: 0, gpus: [] })).toEqual(['warning']);
    const f = diagnoseCuda({ ...healthy, cudaBuild: false, driverVersion: 0, runtimeVersion: 0, gpus: [] });
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('NATTEN_CUDA=1');
  });

  it('a failed device query other than a missing device is an error', () =>
    expect(levels({ ...healthy, deviceStatus: 'cudaErrorSystemNotReady', gpus: [] })).toContain('error'));
});

describe('tuning cache report', () => {
  it('follows NATTEN_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(tuningCacheDir({ NATTEN_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/c' })).toEqual({
      dir: '/x/y',
      from: 'NATTEN_CACHE_DIR',
    });
    expect(tuningCacheDir({ XDG_CACHE_HOME: '/c' })).toEqual({ dir: '/c/natten-node', from: 'XDG_CACHE_HOME' });
    expect(tuningCacheDir({}).dir).toBe(path.join(os.homedir(), '.cache', 'natten-node'));
  });

  it('counts arrays, `entries` and object keys, and reports a corrupt file without throwing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-cache-'));
    fs.writeFileSync(path.join(dir, 'a.json'), '[1, 2]');
    fs.writeFileSync(path.join(dir, 'b.json'), '{"entries": [1, 2, 3]}');
    fs.writeFileSync(path.join(dir, 'c.json'), '{"k1": {}, "k2": {}}');
    fs.writeFileSync(path.join(dir, 'd.json'), '{ not json');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    const r = tuningCacheReport({ NATTEN_CACHE_DIR: dir });
    expect(r.exists).toBe(true);
    expect(r.files.map((f) => f.entries)).toEqual([2, 3, 2, undefined]);
    expect(r.files[3].error).toBeTruthy();
    expect(r.entries).toBe(7);
  });

  it('a missing folder is reported as not created', () => {
    const r = tuningCacheReport({ NATTEN_CACHE_DIR: path.join(os.tmpdir(), 'natten-no-such-dir-4711') });
    expect(r).toMatchObject({ exists: false, files: [], entries: 0 });
  });
});
