/**
 * Composition root of the `sluice` command: reads the command line and runs it. Everything that wires
 * parts together (config, logger, storage, server) starts here and nowhere else.
 */
import { runCli } from './cli/program.js';

// A reader that stops early (`sluice dump-log ... | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
});
process.exitCode = code;
