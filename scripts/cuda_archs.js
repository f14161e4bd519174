// @ts-check
// The CUDA architectures to compile (CMake's CUDA_ARCHITECTURES syntax).
'use strict';

/** Every architecture the kernels are tuned for, as real code, plus PTX for newer GPUs: the default, so an
 * image built anywhere runs on any of them. */
const DEFAULT_ARCHS = '80-real;86-real;89-real;90a-real;80-virtual';
/** PTX that the driver compiles for a GPU newer than any real code of the build. */
const PTX_ARCH = '80-virtual';

/**
 * Real code for each distinct compute capability (e.g. '8.6', '9.0'), plus PTX: what
 * NATTEN_CUDA_ARCHS=native builds. 9.0 gets 90a (the warpgroup kernels need its arch-specific features).
 * @param {readonly string[]} caps compute capabilities as nvidia-smi prints them
 * @returns {string}
 */
function archsForCaps(caps) {
  const real = [...new Set(caps.map((c) => c.trim()).filter((c) => /^\d+\.\d+$/.test(c)))]
    .map((c) => c.replace('.', ''))
    .sort((a, b) => Number(a) - Number(b))
    .map((sm) => `${sm}${sm === '90' ? 'a' : ''}-real`);
  if (real.length === 0) throw new Error(`no compute capability in ${JSON.stringify(caps)}`);
  return [...real, PTX_ARCH].join(';');
}

/**
 * The compute capabilities of the visible GPUs (nvidia-smi), [] when there is none or no nvidia-smi.
 * @returns {string[]}
 */
function visibleComputeCaps() {
  const { spawnSync } = require('child_process');
  const r = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return [];
  return r.stdout.split('\n').filter((l) => l.trim());
}

/**
 * The architecture list of NATTEN_CUDA_ARCHS: unset = DEFAULT_ARCHS, 'native' = the visible GPUs plus PTX,
 * anything else is passed to CMake as it is.
 * @param {string | undefined} setting
 * @returns {string}
 */
function resolveArchs(setting) {
  if (!setting) return DEFAULT_ARCHS;
  if (setting !== 'native') return setting;
  const caps = visibleComputeCaps();
  if (caps.length === 0) {
    throw new Error('NATTEN_CUDA_ARCHS=native but nvidia-smi lists no GPU: unset it to build the default list');
  }
  return archsForCaps(caps);
}

module.exports = { DEFAULT_ARCHS, archsForCaps, resolveArchs };
