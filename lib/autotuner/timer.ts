/**
 * The autotuner's default timing source: CUDA events on the device's own queue (native `naTune`). The
 * candidates come from the fused config registries (`fusedConfigs`, costed by the families' cost models),
 * so a new kernel family joins the tuning through its registry alone.
 */
import * as fs from 'fs';
import { addonFile, native, type NaTuneOptions, type NativeProblem } from '../native';
import { deviceIndex, type DeviceName } from '../device';
import { dtypeCode, type DType } from '../dtype';
import { buildInfo } from '../runtime';
import { FORCED_ONLY_BACKWARD_KERNELS, FORCED_ONLY_FORWARD_KERNELS } from '../ops/fused_configs';
import type { AutotuneTimer, DeviceIdentity, TimerOutcome, TuneCandidate, TuneJob, TunePass } from './types';

let build: string | undefined;

/** natten-node's version and the addon file's size and modification time: a rebuilt addon is another build. */
function buildId(): string {
  if (build === undefined) {
    let file = '';
    try {
      const st = fs.statSync(addonFile());
      file = `${st.size}-${Math.round(st.mtimeMs)}`;
    } catch {
      file = 'unknown';
    }
    build = `${buildInfo().version}+${file}`;
  }
  return build;
}

const identities = new Map<number, DeviceIdentity>();

/** Times candidates with CUDA events on the device's stream (through its tuner thread) and runs the op there. */
export const cudaEventTimer: AutotuneTimer = {
  tunes(device: DeviceName): boolean {
    // With blocking launches the hold's kernel launch would wait for its own release: no tuning then.
    if (process.env.CUDA_LAUNCH_BLOCKING === '1') return false;
    // Lazily loaded kernels can deadlock behind the hold (kernels/runtime/gpu_runtime.cu: the addon asks for
    // eager loading unless the user chose otherwise): no tuning when they did.
    if ((process.env.CUDA_MODULE_LOADING ?? 'EAGER').toUpperCase() !== 'EAGER') return false;
    return device !== 'cpu' && native.hasFused({ device: deviceIndex(device) });
  },

  identity(device: DeviceName): DeviceIdentity {
    const index = deviceIndex(device);
    let id = identities.get(index);
    if (!id) {
      const info = native.deviceInfo({ device: index });
      id = {
        name: info.name,
        computeCapability: info.computeCapability,
        multiProcessorCount: info.multiProcessorCount,
        driverVersion: native.buildInfo().cudaDriverVersion,
        build: buildId(),
      };
      identities.set(index, id);
    }
    return id;
  },

  candidates(device: DeviceName, pass: TunePass, problem: NativeProblem, dtype: DType): TuneCandidate[] {
    const list = native.fusedConfigs({
      device: deviceIndex(device),
      dims: problem.dims,
      headDim: problem.headDim,
      headDimV: problem.headDimV ?? problem.headDim,
      dtype: dtypeCode(dtype),
      problem,
    });
    return list
      .filter(
        (c) =>
          c.pass === pass &&
          !(pass === 'forward'
            ? FORCED_ONLY_FORWARD_KERNELS.has(c.kernel)
            : FORCED_ONLY_BACKWARD_KERNELS.has(c.kernel)),
      )
      .map((c) => ({
        config: {
          ...(pass === 'forward' ? { kernel: c.kernel } : {}),
          qTileShape: c.qTileShape,
          kvTileShape: c.kvTileShape,
        },
        cost: c.cost ?? 0,
      }))
      .sort((a, b) => a.cost - b.cost); // stable: ties keep list order, as the cost model's choice does
  },

  tuneAndRun(job: TuneJob): Promise<TimerOutcome> {
    const options = Object.assign({}, job.options, {
      pass: job.pass,
      candidates: job.nativeConfigs,
      warmupSteps: job.warmupSteps,
      steps: job.steps,
    }) as NaTuneOptions;
    return native.naTune(options);
  },
};
