/**
 * Errors of the `natten-node` command: a message for the user, a stable code, and the exit status.
 * Exit statuses: 1 a command failed (or doctor found something broken), 2 the command line was wrong.
 */

/** Codes of the command's own errors (library errors keep their ERR_NATTEN_* codes). */
export type CliErrorCode =
  | 'ERR_NATTEN_CLI_USAGE'
  | 'ERR_NATTEN_CLI_NO_TUNER'
  | 'ERR_NATTEN_CLI_NO_GPU'
  | 'ERR_NATTEN_CLI_FILE';

/** An error the command reports as `natten-node <command>: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  /** Stable code, printed with the message and in --json output. */
  readonly code: CliErrorCode;
  /** Process exit status. */
  readonly exitCode: number;

  constructor(code: CliErrorCode, message: string, exitCode = code === 'ERR_NATTEN_CLI_USAGE' ? 2 : 1) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A usage error (exit status 2) naming the flag at fault. */
export function usage(message: string): CliError {
  return new CliError('ERR_NATTEN_CLI_USAGE', message);
}
