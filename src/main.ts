/**
 * Composition root of the `sluice` command: reads the command line and runs it. Everything that wires
 * parts together (config, logger, storage, server) starts here and nowhere else.
 */
import { runCli } from './cli/program.js';

// A reader that stops early (`sluice dump-log ... | head`) is not an error. A command that streams through
// `write` (consume) is told instead, so it can leave its group cleanly before exiting.
let streaming = false;
let stdoutGone = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  stdoutGone = true;
  if (!streaming) process.exit(0);
});

const code = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
  async write(text) {
    streaming = true;
    if (stdoutGone) return false;
    if (!process.stdout.write(text)) await drainedOrClosed(process.stdout);
    return !stdoutGone;
  },
  stdin: process.stdin,
  stdinIsTTY: process.stdin.isTTY === true,
});
process.exitCode = code;

function drainedOrClosed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
  });
}
