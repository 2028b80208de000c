/**
 * How a command fails: a message for stderr and an exit code (1 a failed operation, 2 bad usage, 130 stopped
 * by Ctrl-C before it finished).
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
  }
}
