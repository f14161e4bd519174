/** `natten-node doctor`: gathers the report, prints it, and fails when something is broken. */
import { doctor, renderDoctor, type DoctorReport } from './report';

/** What doctor gives back: the report, its text, and the exit status (1 when a problem was found). */
export interface DoctorOutcome {
  result: DoctorReport;
  text: string;
  exitCode: number;
}

/** Runs doctor; `json` hides its progress (the JSON is the whole output). */
export async function runDoctorCommand(json: boolean): Promise<DoctorOutcome> {
  const r = await doctor(json);
  return { result: r, text: renderDoctor(r), exitCode: r.problems.length ? 1 : 0 };
}
