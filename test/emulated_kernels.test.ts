// The fused kernels run on the CPU through the emulation in dev/fused/emu (one OS thread per CUDA thread;
// mma.sync, wgmma, mbarriers, named barriers and TMA copies emulated), against an fp64 reference: the
// backward's mma.sync main and dQ kernels, and its sm_90a wgmma main pass plain, with its TMA loads, with
// persistent CTAs (two, so each walks several tiles) and with both; the forward's mma.sync, wgmma and
// warp-specialised wgmma-ws kernels (random configs of the compiled lists, with poisoned outputs; wgmma-ws
// through TMA and through its cp.async fallback). So machines without a GPU (CI) still check the
// kernels' data paths and that their barrier protocols finish. Races are the GPU sanitizers' to find.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
let dir = '';
let binary = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-emu-'));
  execFileSync('bash', [path.join(ROOT, 'dev/fused/emu/emu_build.sh')], {
    env: { ...process.env, EMU_DIR: path.join(dir, 'emu') },
    stdio: 'pipe',
    timeout: 240000,
  });
  binary = path.join(dir, 'emu', 'emu_check');
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs emu_check (or `program`) and returns its summary line; a failed case makes it exit non-zero
 * (execFileSync throws). */
function emulate(cases: number, seed: number, ...mode: string[]): string {
  return emulateWith(binary, cases, seed, ...mode);
}

function emulateWith(program: string, cases: number, seed: number, ...mode: string[]): string {
  return emulateEnv({}, program, cases, seed, ...mode);
}

/** emulateWith with extra environment variables. */
function emulateEnv(
  env: Record<string, string>,
  program: string,
  cases: number,
  seed: number,
  ...mode: string[]
): string {
  const out = execFileSync(program, [String(cases), String(seed), ...mode], {
    encoding: 'utf8',
    timeout: 240000,
    env: { ...process.env, ...env },
  });
  const summary = out.trim().split('\n').pop() ?? '';
  process.stderr.write(`  [${path.basename(program)} ${mode.join(' ') || 'mma'}] ${summary}\n`);
  return summary;
}

describe('fused backward kernels on the CPU emulation', () => {
  it('the mma.sync main and dQ kernels match the fp64 reference', () => {
    expect(emulate(4, 5)).toMatch(/^emulated: 4 cases, 0 failed/);
  });

  it.each([
    ['plain', []],
    ['with TMA loads', ['tma']],
    ['persistent', ['persistent', '2']],
    ['persistent with TMA loads', ['tma', 'persistent', '2']],
  ])('the wgmma main pass, %s, matches the fp64 reference', (_what, mode) => {
    const summary = emulate(3, 23, 'wgmma', ...mode);
    expect(summary).toMatch(/^emulated: 3 cases, 0 failed, wgmma/);
    const m = /TMA launches (\d+), persistent launches (\d+)/.exec(summary);
    expect(m).not.toBeNull();
    // The switched paths really ran (and only where asked for).
    expect(Number(m![1]) > 0).toBe(mode.includes('tma'));
    expect(Number(m![2]) > 0).toBe(mode.includes('persistent'));
  });
});

describe('fused forward kernels on the CPU emulation', () => {
  it.each([['mma'], ['wgmma'], ['mma-union']])(
    'every compiled %s config family matches the fp64 reference',
    (family) => {
      const summary = emulateWith(path.join(dir, 'emu', 'emu_fwd_check'), 9, 31, family);
      expect(summary).toBe(`emulated forward: 9 cases, 0 failed, ${family}`);
    },
  );

  it('every compiled wgmma-ws config family matches the fp64 reference, through TMA and cp.async loads', () => {
    const summary = emulateWith(path.join(dir, 'emu', 'emu_fwd_check'), 9, 31, 'wgmma-ws');
    const m = /^emulated forward: 9 cases, 0 failed, wgmma-ws \(TMA launches (\d+), cp.async launches (\d+)\)$/.exec(
      summary,
    );
    expect(m).not.toBeNull();
    // Both load paths ran: TMA, and the fallback that dilated problems take.
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
  });

  it('the 2-D wgmma-ws strip configs match it with 3 persistent CTAs walking every Q tile', () => {
    const prog = path.join(dir, 'emu', 'emu_fwd_check');
    const summary = emulateEnv({ EMU_WS_CTAS: '3' }, prog, 6, 72, 'wgmma-ws-strip');
    expect(summary).toMatch(
      /^emulated forward: 6 cases, 0 failed, wgmma-ws-strip \(TMA launches \d+, cp.async launches \d+\)$/,
    );
  });

  it('the 3-D wgmma-ws plane configs match it with 3 persistent CTAs, their items planned by the producer', () => {
    // Persistent CTAs walk several items each, so the two plan buffers are reused and the done marker ends
    // the consumers' loop; a plan handed over out of order would give wrong windows or hang.
    const prog = path.join(dir, 'emu', 'emu_fwd_check');
    const summary = emulateEnv({ EMU_WS_CTAS: '3' }, prog, 4, 19, 'wgmma-ws-plane');
    expect(summary).toMatch(
      /^emulated forward: 4 cases, 0 failed, wgmma-ws-plane \(TMA launches \d+, cp.async launches \d+\)$/,
    );
  });
});
