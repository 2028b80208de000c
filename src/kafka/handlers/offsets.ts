/**
 * OffsetCommit and OffsetFetch. Commits are fenced by the classic group (member and generation; a member-less
 * commit with generation -1 only while the group has no members) and then stored as the broker's own durable
 * commits (GroupCoordinator.commit), so they are the same offsets the HTTP API and `sluice groups` show.
 * Partitions of unknown topics, or offsets beyond the high watermark, fail alone; the others are committed
 * together in one write.
 */
import { OffsetCommit, OffsetFetch } from '../generated/index.js';
import { BrokerError } from '../../common/errors.js';
import { expected, KafkaErrors } from '../errors.js';
import type { ClassicGroups } from '../groups/classic-groups.js';
import type { KafkaServices } from '../services.js';
import type { OffsetCommit as StoredCommit } from '../../groups/group-coordinator.js';

const MAX_METADATA_LENGTH = 4096;

export function offsetCommitHandler(s: KafkaServices, classic: ClassicGroups) {
  return async (_ctx: unknown, version: number, request: OffsetCommit.OffsetCommitRequest): Promise<OffsetCommit.OffsetCommitResponse> => {
    const codes = request.topics.map((t) => t.partitions.map(() => KafkaErrors.NONE as number));
    const reply = (): OffsetCommit.OffsetCommitResponse => ({
      throttleTimeMs: 0,
      topics: request.topics.map((t, i) => ({ name: t.name, partitions: t.partitions.map((p, j) => ({ partitionIndex: p.partitionIndex, errorCode: codes[i]![j]! })) })),
    });
    const failAll = (code: number) => {
      for (const list of codes) list.fill(code);
      return reply();
    };
    if (request.groupId === '') return failAll(KafkaErrors.INVALID_GROUP_ID);
    const g = classic.get(request.groupId);
    const generationId = version >= 1 ? request.generationIdOrMemberEpoch : -1;
    const fencing = g ? g.checkCommit(request.memberId, generationId) : generationId < 0 ? KafkaErrors.NONE : KafkaErrors.UNKNOWN_MEMBER_ID;
    if (fencing !== KafkaErrors.NONE) return failAll(fencing);
    const offsets: StoredCommit[] = [];
    const where: [number, number][] = [];
    request.topics.forEach((t, i) =>
      t.partitions.forEach((p, j) => {
        try {
          const partition = s.topics.partition(t.name, p.partitionIndex);
          if ((p.committedMetadata ?? '').length > MAX_METADATA_LENGTH) {
            codes[i]![j] = KafkaErrors.OFFSET_METADATA_TOO_LARGE;
            return;
          }
          if (p.committedOffset < 0 || p.committedOffset > partition.highWatermark) {
            throw new BrokerError('OFFSET_OUT_OF_RANGE', `offset ${p.committedOffset} is outside [0, ${partition.highWatermark}]`);
          }
          offsets.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata ?? '' });
          where.push([i, j]);
        } catch (err) {
          codes[i]![j] = expected(err).code;
        }
      }),
    );
    if (offsets.length > 0) {
      try {
        await s.groups.commit(request.groupId, { offsets, protocol: 'classic' });
      } catch (err) {
        const { code } = expected(err);
        for (const [i, j] of where) codes[i]![j] = code === KafkaErrors.NON_EMPTY_GROUP ? KafkaErrors.INCONSISTENT_GROUP_PROTOCOL : code;
      }
    }
    return reply();
  };
}

export function offsetFetchHandler(s: KafkaServices) {
  return async (_ctx: unknown, version: number, request: OffsetFetch.OffsetFetchRequest): Promise<OffsetFetch.OffsetFetchResponse> => {
    const committed = new Map<string, Map<number, { offset: number; metadata: string }>>();
    let errorCode: number = KafkaErrors.NONE;
    try {
      for (const o of s.groups.offsets(request.groupId)) {
        let topic = committed.get(o.topic);
        if (!topic) committed.set(o.topic, (topic = new Map()));
        topic.set(o.partition, { offset: o.offset, metadata: o.metadata });
      }
    } catch (err) {
      const { code } = expected(err);
      if (code !== KafkaErrors.GROUP_ID_NOT_FOUND) errorCode = code;
    }
    const asked = request.topics ?? [...committed].map(([name, parts]) => ({ name, partitionIndexes: [...parts.keys()].sort((a, b) => a - b) }));
    const topics = asked.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => {
        const c = committed.get(t.name)?.get(partitionIndex);
        return { partitionIndex, committedOffset: c?.offset ?? -1, committedLeaderEpoch: -1, metadata: c ? c.metadata : '', errorCode: version < 2 ? errorCode : KafkaErrors.NONE };
      }),
    }));
    return { throttleTimeMs: 0, topics, errorCode };
  };
}
