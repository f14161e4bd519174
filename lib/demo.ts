/**
 * `npm start`: a small demo on the best available device (the GPU if there is one, else the CPU) that
 * prints what ran where.
 */
import * as natten from './index';

async function main(): Promise<void> {
  const info = natten.buildInfo();
  const device: natten.DeviceLike = natten.cuda.isAvailable() ? 'cuda' : 'cpu';
  console.log(
    `natten-node ${info.version}: CUDA ${info.cuda ? `compiled (${info.cudaVersion}; ${info.cudaArchitectures.join(', ')})` : 'not compiled'}, ` +
      `${natten.cuda.deviceCount()} CUDA device(s), CPU engine with ${info.cpuThreads} thread(s)`,
  );
  if (natten.cuda.isAvailable()) {
    const d = natten.cuda.deviceInfo();
    console.log(
      `device: cuda:${d.index} ${d.name} (sm_${d.major}${d.minor}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB)`,
    );
  } else {
    console.log('device: cpu (no CUDA device visible)');
  }
  await demoTensors(device);
  await natten.synchronize();
  console.log('memory held after the demo:', natten.memory());
}

async function demoTensors(device: natten.DeviceLike): Promise<void> {
  const dtype = device === 'cpu' ? 'float32' : 'bfloat16';
  const [B, H, X, Y, D] = [1, 4, 32, 32, 32];
  const started = performance.now();
  const q = natten.randn([B, X, Y, H, D], { dtype, device, seed: 1 });
  const k = natten.randn([B, X, Y, H, D], { dtype, device, seed: 2 });
  const v = natten.randn([B, X, Y, H, D], { dtype, device, seed: 3 });
  const out = natten.na2d(q, k, v, { kernelSize: 7 });
  const values = await out.toArray();
  const ms = performance.now() - started;
  console.log(
    `na2d on ${out.device}: q/k/v [${q.shape.join(', ')}] ${dtype}, kernel 7x7 -> output [${out.shape.join(', ')}], ` +
      `${values.length} values, first ${values[0].toFixed(4)}, ${ms.toFixed(1)} ms including setup ` +
      `(${out.device === 'cpu' ? 'CPU engine' : natten.hasFusedNA(out.device) ? 'tensor-core fused kernel' : 'CUDA reference kernel'})`,
  );
  out.dispose();
  for (const t of [q, k, v]) t.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
