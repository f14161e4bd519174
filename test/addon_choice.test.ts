// The choice between prebuilt per-platform packages and the source build (scripts/addon_choice.js): a pure
// function of the host and of what is installed, shared by the install script and the loader.
import * as path from 'path';

interface Host {
  platform: string;
  arch: string;
  libc: 'glibc' | 'musl' | '';
  gpu: boolean;
}
type Use = { kind: 'prebuilt'; name: string } | { kind: 'source' };
interface Choice {
  use: Use;
  message: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const choice = require(path.join(__dirname, '..', 'scripts', 'addon_choice.js')) as {
  prebuiltCandidates(host: Host): string[];
  chooseInstall(o: { host: Host; installed: readonly string[]; fromSource: boolean }): Choice;
  chooseLoad(o: { host: Host; installed: readonly string[]; sourceBuild: boolean }): Choice;
};

const linux = (gpu: boolean, libc: Host['libc'] = 'glibc', arch = 'x64'): Host => ({
  platform: 'linux',
  arch,
  libc,
  gpu,
});
const CPU = '@natten-node/linux-x64';
const CUDA13 = '@natten-node/linux-x64-cuda13';
const CUDA12 = '@natten-node/linux-x64-cuda12';

describe('install: prebuilt package or source build', () => {
  const install = (host: Host, installed: string[], fromSource = false) =>
    choice.chooseInstall({ host, installed, fromSource });

  test('a GPU host with the CUDA package takes it over the CPU one', () => {
    expect(install(linux(true), [CPU, CUDA13]).use).toEqual({ kind: 'prebuilt', name: CUDA13 });
  });
  test('CUDA 13 is preferred over CUDA 12 when both are installed', () => {
    expect(install(linux(true), [CUDA12, CUDA13]).use).toEqual({ kind: 'prebuilt', name: CUDA13 });
    expect(install(linux(true), [CUDA12]).use).toEqual({ kind: 'prebuilt', name: CUDA12 });
  });
  test('a host without a GPU takes the CPU package, and the CUDA one when it is the only one', () => {
    expect(install(linux(false), [CPU, CUDA13]).use).toEqual({ kind: 'prebuilt', name: CPU });
    expect(install(linux(false), [CUDA13]).use).toEqual({ kind: 'prebuilt', name: CUDA13 });
  });
  test('a GPU host with only the CPU package takes it', () => {
    expect(install(linux(true), [CPU]).use).toEqual({ kind: 'prebuilt', name: CPU });
  });
  test('a package of another platform or arch does not match: source build, one line saying why', () => {
    const c = install(linux(false, 'glibc', 'arm64'), [CPU, CUDA13]);
    expect(c.use).toEqual({ kind: 'source' });
    expect(c.message).toMatch(
      /^no prebuilt package installed for linux-arm64 \(glibc\), no NVIDIA GPU: building from source$/,
    );
    expect(install({ platform: 'darwin', arch: 'x64', libc: '', gpu: false }, [CPU]).use).toEqual({ kind: 'source' });
  });
  test('nothing installed: source build', () => {
    expect(install(linux(true), []).use).toEqual({ kind: 'source' });
  });
  test('musl (Alpine): source build with a one-line message, even with glibc packages installed', () => {
    const c = install(linux(false, 'musl'), [CPU, CUDA13]);
    expect(c.use).toEqual({ kind: 'source' });
    expect(c.message).toContain('musl');
    expect(c.message).not.toContain('\n');
  });
  test('NATTEN_FROM_SOURCE=1 builds from source whatever is installed', () => {
    expect(install(linux(true), [CUDA13], true).use).toEqual({ kind: 'source' });
  });
});

describe('load: source build, else the matching prebuilt package', () => {
  test('a source build wins (the install made it because no package matched, or a developer did)', () => {
    expect(choice.chooseLoad({ host: linux(true), installed: [CUDA13], sourceBuild: true })).toEqual({
      use: { kind: 'source' },
      message: '',
    });
  });
  test('no source build: the same package the install chose', () => {
    for (const [host, installed] of [
      [linux(true), [CPU, CUDA13]],
      [linux(false), [CPU, CUDA13]],
      [linux(false), [CUDA13]],
    ] as const) {
      const load = choice.chooseLoad({ host, installed, sourceBuild: false });
      expect(load.use).toEqual(choice.chooseInstall({ host, installed, fromSource: false }).use);
      expect(load.message).toBe('');
    }
  });
  test('neither: a one-line message naming the host', () => {
    const c = choice.chooseLoad({ host: linux(false, 'musl'), installed: [], sourceBuild: false });
    expect(c.use).toEqual({ kind: 'source' });
    expect(c.message).toMatch(/musl.*source build is missing/);
  });
});

test('package names: <scope>/<platform>-<arch>[-cudaNN]', () => {
  expect(choice.prebuiltCandidates(linux(true))).toEqual([CUDA13, CUDA12, CPU]);
  expect(choice.prebuiltCandidates(linux(false, 'glibc', 'arm64'))).toEqual([
    '@natten-node/linux-arm64',
    '@natten-node/linux-arm64-cuda13',
    '@natten-node/linux-arm64-cuda12',
  ]);
  expect(choice.prebuiltCandidates(linux(true, 'musl'))).toEqual([]);
});
