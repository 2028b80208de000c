/**
 * Every command of the `sluice` program has --help with a description and examples (in-process), and the
 * bash completion script generated from the same command tree completes commands and options in a real bash.
 */
import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli, type CliIO } from '../../src/cli/program.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

function capture(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    write: async (text) => (out.push(text), true),
    stdin: new PassThrough(),
    stdinIsTTY: false,
  };
}

/** The command paths of every runnable command (leaves of the tree), e.g. ["topics", "create"]. */
function leaves(command: Command, path: string[] = []): string[][] {
  const visible = command.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden && c.name() !== 'help');
  if (visible.length === 0) return [path];
  return visible.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('sluice --help', () => {
  const paths = leaves(buildProgram(capture()));

  it('covers the commands of the CLI contract', () => {
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['serve', 'topics list', 'topics create', 'topics describe', 'topics delete', 'topics alter-config', 'groups list', 'groups describe', 'groups delete', 'groups reset-offsets', 'retention run', 'produce', 'consume', 'dump-log', 'bench']),
    );
  });

  it.each(paths.filter((p) => p[0] !== 'bench').map((p) => [p.join(' ')]))('%s --help shows usage and examples, exit 0', async (name) => {
    const io = capture();
    expect(await runCli([...name.split(' '), '--help'], io)).toBe(0);
    const help = io.out.join('\n');
    expect(help).toMatch(new RegExp(`^Usage: sluice ${name}`));
    expect(help).toMatch(new RegExp(`Examples:\\n  \\$ .*sluice ${name}`));
  });

  it('broker commands take --broker with SLUICE_BROKER and the default URL', async () => {
    const io = capture();
    await runCli(['groups', 'describe', '--help'], io);
    expect(io.out.join('\n')).toMatch(/--broker <host:port> +broker to talk to: host:port or an http\(s\) URL; a\s+cluster's brokers comma separated\s+\(default:\s+"http:\/\/127\.0\.0\.1:8080",\s+env:\s+SLUICE_BROKER\)/);
  });
});

describe('sluice completion bash', () => {
  it('completes commands, subcommands and options in bash', async () => {
    const io = capture();
    expect(await runCli(['completion', 'bash'], io)).toBe(0);
    const script = join(tempDir(), 'sluice.bash');
    writeFileSync(script, io.out.join('\n') + '\n');
    const complete = (line: string) =>
      execFileSync('bash', ['-c', `source "$1"; COMP_WORDS=($2); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _sluice; echo "\${COMPREPLY[*]}"`, 'bash', script, line], { encoding: 'utf8' }).trim();
    expect(complete('sluice to')).toBe('topics');
    expect(complete('sluice topics cr')).toBe('create');
    expect(complete('sluice topics create orders --pa')).toBe('--partitions');
    expect(complete('sluice groups reset-offsets g --to-')).toBe('--to-earliest --to-latest --to-offset --to-datetime');
    expect(complete('sluice consume orders --f').split(' ')).toEqual(['--from', '--follow']);
    expect(await runCli(['completion', 'fish'], capture())).toBe(2);
  });
});
