/**
 * The classic-protocol groups of the Kafka listener, by group id. A group is driven by one protocol at a
 * time: while a classic group has members, the HTTP group API refuses to join it (the GroupCoordinator asks
 * `claims`), and a classic join to a group with live HTTP members is refused with
 * INCONSISTENT_GROUP_PROTOCOL. Offsets are shared: classic commits are the GroupCoordinator's durable
 * commits, so `sluice groups describe` and GET /groups/:group/offsets show them.
 */
import type { Clock } from '../../log/clock.js';
import { ClassicGroup } from './classic-group.js';

export class ClassicGroups {
  private readonly groups = new Map<string, ClassicGroup>();

  constructor(
    private readonly clock: Clock,
    private readonly initialDelayMs: number,
  ) {}

  get(group: string): ClassicGroup | undefined {
    return this.groups.get(group);
  }

  getOrCreate(group: string): ClassicGroup {
    let g = this.groups.get(group);
    if (!g) {
      g = new ClassicGroup(group, this.clock, this.initialDelayMs, (gone) => {
        if (this.groups.get(gone.groupId) === gone) this.groups.delete(gone.groupId);
      });
      this.groups.set(group, g);
    }
    return g;
  }

  /** Drops a group nobody joined (created for a join that was refused). */
  forgetIfEmpty(group: string): void {
    const g = this.groups.get(group);
    if (g?.isEmpty && g.state === 'Empty') this.groups.delete(group);
  }

  /** Whether the classic protocol drives this group now (it has members or members about to join). */
  claims(group: string): boolean {
    const g = this.groups.get(group);
    return g !== undefined && !g.isEmpty;
  }

  all(): ClassicGroup[] {
    return [...this.groups.values()];
  }

  close(): void {
    for (const g of this.groups.values()) g.close();
    this.groups.clear();
  }
}
