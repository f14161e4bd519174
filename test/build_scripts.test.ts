// Pure parts of the build scripts: NATTEN_CUDA_ARCHS=native's architecture list (scripts/cuda_archs.js)
// and the progress lines read from ninja / make output (scripts/build_progress.js).
import * as path from 'path';

/* eslint-disable @typescript-eslint/no-require-imports */
const archs = require(path.join(__dirname, '..', 'scripts', 'cuda_archs.js')) as {
  DEFAULT_ARCHS: string;
  archsForCaps(caps: readonly string[]): string;
  resolveArchs(setting: string | undefined): string;
};
const progress = require(path.join(__dirname, '..', 'scripts', 'build_progress.js')) as {
  parseStatusLine(line: string): { done: number; total: number; what: string } | null;
  describeStep(what: string): string;
};
/* eslint-enable @typescript-eslint/no-require-imports */

describe('CUDA architectures', () => {
  test('native: real code per distinct visible GPU, sorted, 9.0 as 90a, plus PTX', () => {
    expect(archs.archsForCaps(['9.0', '8.6', '9.0'])).toBe('86-real;90a-real;80-virtual');
    expect(archs.archsForCaps(['12.0\n'])).toBe('120-real;80-virtual');
  });
  test('native without a parsable compute capability is an error, not an empty list', () => {
    expect(() => archs.archsForCaps([])).toThrow(/no compute capability/);
    expect(() => archs.archsForCaps(['[N/A]'])).toThrow(/no compute capability/);
  });
  test('unset keeps the full default list; an explicit list passes through', () => {
    expect(archs.resolveArchs(undefined)).toBe('80-real;86-real;89-real;90a-real;80-virtual');
    expect(archs.resolveArchs('')).toBe(archs.DEFAULT_ARCHS);
    expect(archs.resolveArchs('90a')).toBe('90a');
  });
});

describe('build progress', () => {
  test('ninja and make status lines', () => {
    expect(progress.parseStatusLine('[12/80] Building CUDA object CMakeFiles/natten.dir/kernels/a.cu.o')).toEqual({
      done: 12,
      total: 80,
      what: 'Building CUDA object CMakeFiles/natten.dir/kernels/a.cu.o',
    });
    expect(progress.parseStatusLine('[ 45%] Building CXX object CMakeFiles/natten.dir/native/x.cc.o')).toEqual({
      done: 45,
      total: 100,
      what: 'Building CXX object CMakeFiles/natten.dir/native/x.cc.o',
    });
    expect(progress.parseStatusLine('-- Configuring done')).toBeNull();
  });
  test('a step names its source file, language and SIMD level', () => {
    expect(progress.describeStep('Building CXX object CMakeFiles/natten_cpu_avx512.dir/engine/cpu/gemm.cc.o')).toBe(
      'engine/cpu/gemm.cc (CXX, avx512)',
    );
    expect(progress.describeStep('Building CUDA object CMakeFiles/natten.dir/kernels/fused/forward/f.cu.o')).toBe(
      'kernels/fused/forward/f.cu (CUDA)',
    );
  });
});
