/** A LogEvents that remembers what was logged, so tests can check that problems are reported. */
import type { LogEvents } from '../../src/log/log-config.js';

export class CollectedEvents implements LogEvents {
  readonly lines: { level: 'info' | 'warn' | 'error'; msg: string; obj: object }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: 'error', msg, obj });
  }
  messages(level?: 'info' | 'warn' | 'error'): string[] {
    return this.lines.filter((l) => !level || l.level === level).map((l) => l.msg);
  }
}
