/**
 * The `sluice` command line (commander): `serve` runs the broker; `topics`, `groups`, `retention`, `produce`
 * and `consume` talk to a broker through sluice/client; `dump-log` reads segment files offline.
 *
 * Exit codes: 0 success, 1 a failed operation (a broker error prints its code and message; an unreachable
 * broker, the URL tried), 2 bad usage, 130 interrupted.
 */
import { Command, CommanderError, Option } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isBrokerError } from '../client/errors.js';
import { addAuthCommand } from './auth.js';
import { addCompletionCommand } from './completion.js';
import { addConsumeCommand } from './consume.js';
import { dumpFile } from './dump-log.js';
import { CliFailure, EXIT_FAILURE, EXIT_USAGE } from './errors.js';
import { addGroupsCommand } from './groups.js';
import { addProduceCommand } from './produce.js';
import { addRetentionCommand } from './retention.js';
import { addServeCommand } from './serve.js';
import { addShareGroupsCommand } from './share-groups.js';
import { addDevClusterCommand } from './dev-cluster.js';
import { addTopicsCommand } from './topics.js';
import { VERSION, packageRoot } from '../server/version.js';

export interface CliIO {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Writes text to stdout, waiting while it is full; false once its reader has gone (EPIPE). */
  write(text: string): Promise<boolean>;
  stdin: Readable;
  stdinIsTTY: boolean;
}

export function buildProgram(io: CliIO): Command {
  const program = new Command('sluice')
    .description('sluice: a durable, Kafka-style commit log and message broker')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s.replace(/\n$/, '')), writeErr: (s) => io.stderr(s.replace(/\n$/, '')) });

  program.addHelpText(
    'after',
    `
Commands that talk to a broker take --broker HOST:PORT or URL, or a comma-separated list of a cluster's
brokers (env SLUICE_BROKER, default http://127.0.0.1:8080).
Exit codes: 0 success, 1 failed operation, 2 bad usage, 130 interrupted.

Examples:
  $ sluice serve --data-dir ./data
  $ sluice topics create orders --partitions 6
  $ seq 1000 | sluice produce orders
  $ sluice consume orders --group audit --follow
  $ sluice groups describe audit`,
  );

  addServeCommand(program);
  addTopicsCommand(program, io);
  addGroupsCommand(program, io);
  addShareGroupsCommand(program, io);
  addRetentionCommand(program, io);
  addProduceCommand(program, io);
  addConsumeCommand(program, io);
  addCompletionCommand(program, io);
  addAuthCommand(program, io);
  addDevClusterCommand(program, io);

  program
    .command('dump-log')
    .description('print the batches and records of a segment file (.log), or the entries of an .index/.timeindex, without a broker')
    .argument('<file>', 'a segment (.log), offset index (.index) or time index (.timeindex) file')
    .option('--json', 'JSON Lines: one object per batch (with baseOffset) and per record (offset, timestamp, key, value, headers)', false)
    .option('--verify', 'exit 1 if any batch fails its CRC or is torn', false)
    .option('--batches-only', 'print batch headers only', false)
    .addOption(new Option('--encoding <encoding>', 'how keys, values and header values are printed').choices(['utf8', 'base64']).default('utf8'))
    .addHelpText(
      'after',
      `
Examples:
  $ sluice dump-log data/orders-0/00000000000000000000.log
  $ sluice dump-log --json --encoding base64 00000000000000000000.log | jq 'select(.offset != null)'
  $ sluice dump-log --verify 00000000000000001234.log && echo intact`,
    )
    .action((file: string, options: { json: boolean; verify: boolean; batchesOnly: boolean; encoding: 'utf8' | 'base64' }) => {
      let summary;
      try {
        summary = dumpFile(file, options, io.stdout);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new CliFailure(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
      }
      if (options.verify && (summary.invalidBatches > 0 || summary.torn)) {
        throw new CliFailure(`${file}: ${summary.invalidBatches} invalid batch(es)${summary.torn ? ', torn tail' : ''}`);
      }
    });

  program
    .command('bench')
    .description('run the benchmark harness (compiled; same as `npm run bench`): --workload NAME|FILE, --list, compare A B, or the development suites')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', 'passed to the harness: --workload NAME|FILE, --broker URL, --duration S, --out DIR, --peers LIST, --quick, --list, compare A B, --suite NAME, --help')
    .action(async (args: string[]) => {
      const harness = join(packageRoot(), 'dist', 'bench', 'run.js');
      if (!existsSync(harness)) throw new CliFailure(`${harness} is missing: run \`npm run build\` first`);
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [harness, ...args], { stdio: 'inherit' });
        // Pass a termination on, so the harness can stop its brokers and remove its scratch data.
        const forward = (signal: NodeJS.Signals) => child.kill(signal);
        process.on('SIGTERM', forward);
        process.on('SIGINT', forward);
        child.on('exit', (c) => {
          process.off('SIGTERM', forward);
          process.off('SIGINT', forward);
          resolve(c ?? 1);
        });
      });
      if (code !== 0) throw new CliFailure(`the benchmark harness exited with ${code}`, code);
    });

  program
    .command('generate-docs', { hidden: true })
    .description('rewrite the generated tables in docs/ (error codes, config keys) from the code')
    .option('--check', 'exit 1 if a doc is out of date instead of writing it', false)
    .action(async (options: { check: boolean }) => {
      const stale = await generateDocs(process.cwd(), options.check);
      if (options.check && stale.length > 0) throw new CliFailure(`out of date: ${stale.join(', ')} (run sluice generate-docs)`);
      for (const file of stale) io.stdout(`updated ${file}`);
    });

  return program;
}

async function generateDocs(root: string, checkOnly: boolean): Promise<string[]> {
  const { GENERATED, splice } = await import('../server/docs-tables.js'); // loads the server's tables: only here
  const stale = new Set<string>();
  const texts = new Map<string, string>();
  for (const [name, { file, render }] of Object.entries(GENERATED)) {
    const text = texts.get(file) ?? readFileSync(join(root, file), 'utf8');
    const next = splice(text, name, render());
    if (next !== text) stale.add(file);
    texts.set(file, next);
  }
  if (!checkOnly) for (const file of stale) writeFileSync(join(root, file), texts.get(file)!);
  return [...stale];
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it in-process. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander.help is help shown for a missing command (`sluice topics`): a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return EXIT_USAGE;
    }
    if (err instanceof CliFailure) {
      io.stderr(`sluice: ${err.message}`);
      return err.exitCode;
    }
    if (isBrokerError(err)) {
      io.stderr(`sluice: ${err.code}: ${err.message}`);
      return EXIT_FAILURE;
    }
    io.stderr(`sluice: ${(err as Error).stack ?? String(err)}`);
    return EXIT_FAILURE;
  }
}
