// @ts-check
// Which native addon to use: a prebuilt per-platform package (@natten-node/<platform>-<arch>[-cudaNN],
// installed as an optional dependency) or the source build. The choice is a pure function of the host
// (platform, arch, libc, whether an NVIDIA GPU is visible) and of what is installed, so the install script
// (scripts/install.js), the loader (lib/native.ts) and the unit test (test/addon_choice.test.ts) share it.
'use strict';

/** npm scope of the per-platform packages. */
const SCOPE = '@natten-node';
/** CUDA flavours of the prebuilt packages, preferred first (the suffix of the package name). */
const CUDA_FLAVOURS = ['cuda13', 'cuda12'];

/**
 * @typedef {{platform: string, arch: string, libc: 'glibc' | 'musl' | '', gpu: boolean}} Host
 *   libc: '' where it does not apply (not Linux).
 * @typedef {{kind: 'prebuilt', name: string} | {kind: 'source'}} AddonSource
 * @typedef {{use: AddonSource, message: string}} Choice  message: one line for the user, or ''.
 */

/**
 * The prebuilt package names that would run on the host, preferred first: with a GPU the CUDA packages
 * and then the CPU one, without a GPU the CPU one and then the CUDA ones (they run on the CPU too). None
 * for musl (no prebuilt packages are made for it).
 * @param {Host} host
 * @returns {string[]}
 */
function prebuiltCandidates(host) {
  if (host.libc === 'musl') return [];
  const base = `${SCOPE}/${host.platform}-${host.arch}`;
  const cuda = CUDA_FLAVOURS.map((f) => `${base}-${f}`);
  return host.gpu ? [...cuda, base] : [base, ...cuda];
}

/** @param {Host} host */
function describeHost(host) {
  return `${host.platform}-${host.arch}${host.libc ? ` (${host.libc})` : ''}, ${host.gpu ? 'NVIDIA GPU' : 'no NVIDIA GPU'}`;
}

/**
 * What the install script does: use an installed prebuilt package that matches the host, or build from
 * source (forced by NATTEN_FROM_SOURCE=1, or when none matches).
 * @param {{host: Host, installed: readonly string[], fromSource: boolean}} o
 * @returns {Choice}
 */
function chooseInstall({ host, installed, fromSource }) {
  if (fromSource) return { use: { kind: 'source' }, message: 'NATTEN_FROM_SOURCE=1: building from source' };
  if (host.libc === 'musl') {
    return {
      use: { kind: 'source' },
      message: 'musl libc (e.g. Alpine) has no prebuilt packages: building from source',
    };
  }
  const name = prebuiltCandidates(host).find((n) => installed.includes(n));
  if (name) return { use: { kind: 'prebuilt', name }, message: `using the prebuilt ${name} (no compilation)` };
  return {
    use: { kind: 'source' },
    message: `no prebuilt package installed for ${describeHost(host)}: building from source`,
  };
}

/**
 * What the loader loads: the source build where there is one (the install script made it because no
 * prebuilt package matched, or a developer did), else the best matching installed prebuilt package.
 * @param {{host: Host, installed: readonly string[], sourceBuild: boolean}} o
 * @returns {Choice}
 */
function chooseLoad({ host, installed, sourceBuild }) {
  if (sourceBuild) return { use: { kind: 'source' }, message: '' };
  const name = prebuiltCandidates(host).find((n) => installed.includes(n));
  if (name) return { use: { kind: 'prebuilt', name }, message: '' };
  return {
    use: { kind: 'source' },
    message:
      host.libc === 'musl'
        ? 'musl libc (e.g. Alpine) has no prebuilt packages and the source build is missing'
        : `no prebuilt package installed for ${describeHost(host)} and the source build is missing`,
  };
}

/**
 * The host as the choice sees it. GPU: an NVIDIA driver exposing at least one device (what the CUDA
 * runtime would find), unless CUDA_VISIBLE_DEVICES hides them all.
 * @returns {Host}
 */
function currentHost() {
  const fs = require('fs');
  let libc = /** @type {Host['libc']} */ ('');
  if (process.platform === 'linux') {
    const header = /** @type {{header?: {glibcVersionRuntime?: string}}} */ (process.report?.getReport() ?? {}).header;
    libc = header?.glibcVersionRuntime ? 'glibc' : 'musl';
  }
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  let gpu = false;
  if (visible !== '' && visible !== '-1' && process.platform === 'linux') {
    try {
      gpu = fs.readdirSync('/proc/driver/nvidia/gpus').length > 0;
    } catch {
      gpu = fs.existsSync('/dev/nvidia0');
    }
  }
  return { platform: process.platform, arch: process.arch, libc, gpu };
}

/**
 * The prebuilt package names (of any host) resolvable from `root`.
 * @param {string} root folder whose node_modules chain is searched (the natten-node package root)
 * @param {Host} host
 * @returns {string[]}
 */
function installedPrebuilts(root, host) {
  return prebuiltCandidates(host).filter((name) => prebuiltAddonPath(root, name) !== null);
}

/**
 * The addon file of an installed prebuilt package, or null.
 * @param {string} root
 * @param {string} name
 * @returns {string | null}
 */
function prebuiltAddonPath(root, name) {
  const path = require('path');
  try {
    const pkg = require.resolve(`${name}/package.json`, { paths: [root] });
    const file = path.join(path.dirname(pkg), 'natten.node');
    return require('fs').existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

module.exports = {
  SCOPE,
  CUDA_FLAVOURS,
  prebuiltCandidates,
  chooseInstall,
  chooseLoad,
  currentHost,
  installedPrebuilts,
  prebuiltAddonPath,
};
