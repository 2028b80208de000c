/**
 * The leader's rules over its followers (Kafka's Replica state and Partition.isFollowerInSync /
 * getOutOfSyncReplicas / maybeIncrementLeaderHW), as pure functions over replica states so that they can be
 * tested exhaustively; Partition applies them and is the only writer of the states.
 *
 * A follower's state is what its fetches said: the offset it asked for is its log end offset (everything
 * below it is on its disk, durable under its fsync policy: its acknowledgement), and the last time it was
 * caught up. "Caught up" follows Kafka: a fetch at or past the leader's log end offset of that moment makes
 * the follower caught up now; a fetch at or past the leader's log end offset of the follower's previous fetch
 * makes it caught up as of that previous fetch. A follower that keeps fetching but never reaches the end
 * (too slow for the produce rate) stops being caught up, and so does one that stops fetching.
 *
 * Invariants: `logEndOffset` of a state is -1 until the follower fetched under the current leader epoch;
 * `lastCaughtUpTimeMs` only grows.
 */

export interface FollowerState {
  brokerId: number;
  /** the offset of its last fetch under this leader epoch; -1 while unknown */
  logEndOffset: number;
  /** when it was last caught up with the leader (ms, clock time) */
  lastCaughtUpTimeMs: number;
  /** when it last fetched; -1 never */
  lastFetchTimeMs: number;
  /** the leader's log end offset when it last fetched */
  lastFetchLeaderLogEndOffset: number;
}

/**
 * Follower states on becoming leader (Kafka's resetReplicaState): positions unknown until they fetch;
 * members of the ISR count as caught up from now (so they are not dropped before they had a chance to
 * fetch), the others never were.
 */
export function initialFollowerState(brokerId: number, inIsr: boolean, now: number): FollowerState {
  return { brokerId, logEndOffset: -1, lastCaughtUpTimeMs: inIsr ? now : 0, lastFetchTimeMs: -1, lastFetchLeaderLogEndOffset: -1 };
}

/** The state after a fetch at `fetchOffset` when the leader's log ends at `leaderLogEndOffset`. */
export function afterFetch(state: FollowerState, fetchOffset: number, leaderLogEndOffset: number, now: number): FollowerState {
  let lastCaughtUpTimeMs = state.lastCaughtUpTimeMs;
  if (fetchOffset >= leaderLogEndOffset) lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, now);
  else if (state.lastFetchTimeMs >= 0 && fetchOffset >= state.lastFetchLeaderLogEndOffset) lastCaughtUpTimeMs = Math.max(lastCaughtUpTimeMs, state.lastFetchTimeMs);
  return { brokerId: state.brokerId, logEndOffset: fetchOffset, lastCaughtUpTimeMs, lastFetchTimeMs: now, lastFetchLeaderLogEndOffset: leaderLogEndOffset };
}

/**
 * Whether a follower outside the ISR may join it (Kafka's isFollowerInSync): it has everything below the
 * high watermark and everything this leader had when its epoch started, so that electing it later loses no
 * committed record and no record of an earlier epoch this leader kept.
 */
export function mayJoinIsr(state: FollowerState, highWatermark: number, leaderEpochStartOffset: number): boolean {
  return state.logEndOffset >= 0 && state.logEndOffset >= highWatermark && state.logEndOffset >= leaderEpochStartOffset;
}

/** ISR members (not the leader) that have not been caught up for longer than `maxLagMs`. */
export function laggingFollowers(isr: readonly number[], leaderId: number, followers: ReadonlyMap<number, FollowerState>, now: number, maxLagMs: number): number[] {
  return isr.filter((id) => {
    if (id === leaderId) return false;
    const state = followers.get(id);
    return state === undefined || now - state.lastCaughtUpTimeMs > maxLagMs;
  });
}

/**
 * The high watermark the ISR allows: the smallest log end offset over `isr` (the leader's own acknowledged
 * end included). A member whose position is unknown (it has not fetched under this epoch) holds it where it
 * is: null, no move.
 */
export function highWatermarkCandidate(isr: readonly number[], leaderId: number, leaderEnd: number, followers: ReadonlyMap<number, FollowerState>): number | null {
  let candidate = leaderEnd;
  for (const id of isr) {
    if (id === leaderId) continue;
    const end = followers.get(id)?.logEndOffset ?? -1;
    if (end < 0) return null;
    candidate = Math.min(candidate, end);
  }
  return candidate;
}

/**
 * The set the high watermark is computed over while an ISR change is on its way (Kafka's "maximal ISR"): the
 * union of the ISR in force and the proposed one, so that neither an expansion (the new member is counted
 * at once) nor a shrink (the leaving member still counts until the change is accepted) lets the high
 * watermark pass a record some replica the controller may consider in sync does not have.
 */
export function maximalIsr(isr: readonly number[], pending: readonly number[] | null): number[] {
  if (!pending) return [...isr];
  return [...new Set([...isr, ...pending])];
}
