/**
 * `natten-node profile`: --dry-run lists the configs, --optimize asks the autotuner, otherwise the problem
 * runs and its kernels (GPU) or ops (CPU) are timed.
 */
import { describeProblem, profileProblem, type ProfileFlags } from './problem';
import { dryRun, renderDryRun } from './dry_run';
import { renderProfile, runProfile } from './run';
import { optimize, renderTune } from './tuner_adapter';
import { progress } from '../output';
import { usage } from '../errors';

/** What a profile run gives back: its result and the text to print. */
export interface ProfileOutcome {
  result: Record<string, unknown>;
  text: string;
}

/** Runs the profile command the flags ask for. */
export async function runProfileCommand(flags: ProfileFlags): Promise<ProfileOutcome> {
  if (flags.arch !== undefined && !flags.dryRun)
    throw usage('--arch lists configs without a GPU: use it with --dry-run');
  const p = profileProblem(flags);
  const problem = describeProblem(p);
  if (flags.dryRun) {
    const r = dryRun(p, flags.arch);
    return { result: { problem: p, ...r }, text: renderDryRun(r, problem) };
  }
  if (flags.optimize) {
    let bar: ReturnType<typeof progress> | undefined;
    let done = 0;
    const r = await optimize(p, (d, total, what) => {
      bar ??= progress('tuning', total, Boolean(flags.json));
      for (; done < d; done++) bar.tick(what);
    });
    bar?.stop();
    return { result: { problem: p, tuned: r }, text: `${problem}\n${renderTune(r)}` };
  }
  const r = await runProfile(p, Boolean(flags.json));
  return { result: { problem: p, ...r }, text: renderProfile(r, problem) };
}
