/**
 * Where a follower cuts its log before fetching (KIP-101, with KIP-279's rounds), pure. The follower asked
 * its leader where `askedEpoch` (its latest) ends; the leader answered with the largest epoch it knows that is
 * not newer (`leaderEpoch`) and where that ends on the leader (`leaderEndOffset`).
 *
 * - The leader knows no such epoch (-1): only the follower's high watermark is known to be shared.
 * - The leader knows our epoch: everything of ours past where the leader's copy of it ends diverged.
 * - The leader answered an older epoch: if we know that epoch, cut at the smaller of both ends of it; if we
 *   do not, cut to the end of our largest epoch below it and ask again (not done).
 */
export interface EpochAnswer {
  askedEpoch: number;
  leaderEpoch: number;
  leaderEndOffset: number;
}

export interface FollowerLog {
  logEndOffset: number;
  highWatermark: number;
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number };
}

export function truncationTarget(answer: EpochAnswer, log: FollowerLog): { offset: number; done: boolean } {
  if (answer.leaderEpoch < 0 || answer.leaderEndOffset < 0) return { offset: Math.min(log.highWatermark, log.logEndOffset), done: true };
  if (answer.leaderEpoch === answer.askedEpoch) return { offset: Math.min(answer.leaderEndOffset, log.logEndOffset), done: true };
  const own = log.endOffsetForEpoch(answer.leaderEpoch);
  if (own.endOffset < 0) return { offset: Math.min(answer.leaderEndOffset, log.logEndOffset), done: true };
  if (own.epoch === answer.leaderEpoch) return { offset: Math.min(answer.leaderEndOffset, own.endOffset, log.logEndOffset), done: true };
  return { offset: Math.min(own.endOffset, log.logEndOffset), done: false };
}
