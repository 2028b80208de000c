/**
 * Progress display for long runs. On a terminal: a cli-progress bar for the whole run (cases done / planned)
 * and, under it, a transient bar for a long step such as building a 1 GB log; result lines are printed above
 * the bars. Without a terminal (CI, `> file`): plain lines, one per step, so a log file stays readable.
 */
import cliProgress from 'cli-progress';

export interface StepProgress {
  /** sets the amount done so far, in the step's own unit */
  update(done: number): void;
  finish(): void;
}

export class Progress {
  private readonly multi: cliProgress.MultiBar | null;
  private readonly overall: cliProgress.SingleBar | null;
  private done = 0;
  private current = '';

  constructor(private readonly total: number) {
    if (process.stderr.isTTY) {
      this.multi = new cliProgress.MultiBar(
        {
          format: ' {bar} {value}/{total} cases | {duration_formatted} | {label}',
          hideCursor: true,
          clearOnComplete: true,
          autopadding: true,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      this.overall = this.multi.create(total, 0, { label: 'starting' });
    } else {
      this.multi = null;
      this.overall = null;
    }
  }

  /** Announces the next case; the previous one counts as done. */
  startCase(label: string): void {
    if (this.current) this.done++;
    this.current = label;
    if (this.overall) this.overall.update(this.done, { label });
    else console.log(`[${this.done + 1}/${this.total}] ${label}`);
  }

  /** A bar for one long step (`total` in `unit`s); plain mode prints its start and end only. */
  step(label: string, total: number, unit: string): StepProgress {
    const started = performance.now();
    if (!this.multi) {
      console.log(`    ${label} (${Math.round(total)} ${unit})`);
      return {
        update: () => undefined,
        finish: () => console.log(`    ${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`),
      };
    }
    const multi = this.multi;
    const bar = multi.create(Math.round(total), 0, { label }, { format: `   {bar} {value}/{total} ${unit} | {label}` });
    return {
      update: (done) => bar.update(Math.min(Math.round(done), Math.round(total))),
      finish: () => {
        bar.stop();
        multi.remove(bar);
      },
    };
  }

  /** Prints a line above the bars (or plainly). */
  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else console.log(line);
  }

  stop(): void {
    if (!this.multi || !this.overall) return;
    this.overall.update(this.total, { label: 'done' });
    this.multi.update();
    this.multi.stop();
  }
}
