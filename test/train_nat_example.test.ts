// examples/train_nat.ts on the CPU: the loss falls in float32 and bfloat16, --init/--data files give the run
// that the seed gives (the path the PyTorch twin's files take), and a bad data file is refused.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as natten from '../lib';
import { makeBatch, TASK_DEFAULTS } from '../examples/denoise_task';
import { NATDenoiser, seededWeights } from '../examples/nat_denoiser';
import { finalLoss, type LossRecord } from '../examples/loss_record';

const SCRIPT = join(__dirname, '..', 'dist', 'examples', 'train_nat.js');
const SMALL = [
  '--device',
  'cpu',
  '--size',
  '16x16',
  '--channels',
  '32',
  '--heads',
  '2',
  '--kernel',
  '5',
  '--batch',
  '4',
];
const TASK = { batch: 4, height: 16, width: 16, channels: 1, ...TASK_DEFAULTS };

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'train-nat-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the example with `args` plus --losses; its stdout and the losses record. */
async function train(name: string, args: string[]): Promise<{ stdout: string; record: LossRecord }> {
  const losses = join(dir, `${name}.json`);
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, ...SMALL, ...args, '--losses', losses], {
    env: process.env,
  });
  return { stdout, record: JSON.parse(readFileSync(losses, 'utf8')) as LossRecord };
}

describe('examples/train_nat.ts on the CPU', () => {
  it('float32, 40 steps from the seed: the loss falls below half its start, printed every 10 steps', async () => {
    const { stdout, record } = await train('f32', ['--steps', '40', '--print-every', '10']);
    expect(stdout).toMatch(/train_nat: cpu float32, fields \[4, 16, 16, 1\] \(seed 0\), C32, 2 heads, kernel 5/);
    expect(stdout.match(/^step +\d+\/40 +loss \d+\.\d+/gm)).toHaveLength(4);
    expect(record.losses).toHaveLength(40);
    expect(record.losses.every(Number.isFinite)).toBe(true);
    expect(finalLoss(record.losses)).toBeLessThan(0.5 * record.losses[0]);
    expect(record).toMatchObject({ dtype: 'float32', model: { depth: 2, channels: 32, heads: 2, kernel: 5 } });
  });

  it('bfloat16 (fp32 master weights), 40 steps: the loss falls below half its start', async () => {
    const { record } = await train('bf16', ['--steps', '40', '--dtype', 'bfloat16']);
    expect(record.losses.every(Number.isFinite)).toBe(true);
    expect(finalLoss(record.losses)).toBeLessThan(0.5 * record.losses[0]);
  });

  it('--init and --data files (safetensors) give exactly the losses of the seeded run they hold', async () => {
    const steps = 6;
    const seeded = await train('seeded', ['--steps', String(steps), '--seed', '5']);
    const model = new NATDenoiser({ inChannels: 1, embedDim: 32, numHeads: 2, kernelSize: 5 });
    const init = seededWeights(model, 5);
    await natten.saveSafetensors(join(dir, 'init.safetensors'), init, { format: 'pt' });
    const batches = Array.from({ length: steps }, (_, s) => makeBatch(TASK, 5, s));
    const stack = (k: 'noisy' | 'clean'): natten.Tensor =>
      natten.tensor(Float32Array.from(batches.flatMap((b) => Array.from(b[k]))), [steps, 4, 16, 16, 1]);
    const data = new Map([
      ['noisy', stack('noisy')],
      ['clean', stack('clean')],
    ]);
    await natten.saveSafetensors(join(dir, 'data.safetensors'), data);
    [...init.values(), ...data.values()].forEach((t) => t.dispose());
    model.dispose();
    const files = ['--init', join(dir, 'init.safetensors'), '--data', join(dir, 'data.safetensors')];
    const fromFiles = await train('files', ['--steps', String(steps), ...files]);
    expect(fromFiles.stdout).toMatch(/fields \[4, 16, 16, 1\] from .*data\.safetensors/);
    expect(fromFiles.record.losses).toEqual(seeded.record.losses);
    // Asking for more steps than the file holds is refused before training.
    await expect(train('short', ['--steps', String(steps + 1), ...files])).rejects.toMatchObject({
      stderr: expect.stringMatching(/holds 6 batches, --steps asks for 7/),
    });
  });

  it('a data file without "clean" is refused with a message naming the tensors', async () => {
    const noisy = natten.zeros([2, 4, 16, 16, 1]);
    const bad = join(dir, 'bad.safetensors');
    await natten.saveSafetensors(bad, new Map([['noisy', noisy]]));
    noisy.dispose();
    await expect(train('bad', ['--steps', '2', '--data', bad])).rejects.toMatchObject({
      stderr: expect.stringMatching(/expected tensors "noisy" and "clean" of one shape/),
    });
  });
});
