/**
 * Which whole segments of a partition retention deletes. Pure planning over the segment list, oldest first;
 * PartitionLog.applyRetention carries the plan out.
 *
 * - Time: a segment expires when its newest record is older than `retentionMs`
 *   (maxTimestamp < now - retentionMs; at exactly retentionMs old it is kept, as in Kafka). A segment with
 *   mixed old and new records is kept until its newest record expires.
 * - Size: while the partition is larger than `retentionBytes`, its oldest segments go, as long as what stays
 *   is still at least `retentionBytes` (whole segments only).
 * - Never a segment holding records at or above the high watermark (not yet committed), and never the
 *   active segment. When every segment including a non-empty active one has expired, the plan asks for a roll
 *   first, so an idle topic does get cleaned: the new, empty active segment keeps the log end offset.
 */

export interface RetentionPolicy {
  /** null: keep forever */
  retentionMs: number | null;
  /** null: no size limit */
  retentionBytes: number | null;
}

/** What the planner needs of a segment (LogSegment has it). */
export interface RetentionSegment {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly size: number;
  readonly isEmpty: boolean;
  readonly maxTimestamp: number;
  /** The time index gives maxTimestamp; segments load it lazily. */
  ensureIndexesLoaded(): Promise<unknown>;
}

export interface RetentionPlan {
  /** how many of the oldest segments to delete (after the roll, when there is one) */
  deleteCount: number;
  /** roll the active segment first (it expired as well) */
  rollFirst: boolean;
  reason: 'time' | 'size' | 'time and size' | null;
}

export async function planRetention(segments: readonly RetentionSegment[], policy: RetentionPolicy, now: number, highWatermark: number): Promise<RetentionPlan> {
  const last = segments.length - 1;
  const committed = (s: RetentionSegment) => s.nextOffset <= highWatermark;

  let bySize = 0;
  if (policy.retentionBytes !== null) {
    let excess = segments.reduce((n, s) => n + s.size, 0) - policy.retentionBytes;
    while (bySize < last && committed(segments[bySize]!) && excess - segments[bySize]!.size >= 0) {
      excess -= segments[bySize]!.size;
      bySize++;
    }
  }

  let byTime = 0;
  let rollFirst = false;
  if (policy.retentionMs !== null) {
    const expiredBefore = now - policy.retentionMs;
    // Only the leading run of expired segments goes (oldest first); the time index is loaded just for those.
    for (; byTime <= last; byTime++) {
      const segment = segments[byTime]!;
      if (segment.isEmpty) break; // only the active segment is ever empty: nothing to delete there
      await segment.ensureIndexesLoaded();
      if (segment.maxTimestamp >= expiredBefore || !committed(segment)) break;
    }
    if (byTime > last) {
      rollFirst = true; // the active segment expired too: roll, then it can go like the others
      byTime = segments.length;
    }
  }

  const deleteCount = Math.max(bySize, byTime);
  const reason = deleteCount === 0 ? null : bySize > 0 && byTime > 0 ? 'time and size' : bySize > 0 ? 'size' : 'time';
  return { deleteCount, rollFirst: rollFirst && byTime >= bySize, reason };
}
