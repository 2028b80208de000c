/**
 * `sluice groups reset-offsets`, as operators know it from kafka-consumer-groups.sh and rpk: which partitions
 * (`--topic T`, `--topic T:0,2`, repeatable, or `--all-topics`: every topic the group has committed offsets
 * for), where to (`--to-earliest`, `--to-latest`, `--to-offset N`, `--to-datetime T`, `--shift-by N`), and
 * `--dry-run` to print the plan (partition, current, new, lag after) without applying it.
 *
 * The plan is computed here from the topic's offsets and the group's committed offsets, then applied as ONE
 * commit for a group without live members (all partitions or none; the broker refuses it with GROUP_NOT_EMPTY
 * when a member joined meanwhile). New offsets are clamped to [log start, high watermark] as Kafka does.
 */
import { InvalidArgumentError } from 'commander';
import type { Admin } from '../client/admin.js';
import type { CommittedOffset, PartitionDescription } from '../client/types.js';
import { hasCode } from './broker-command.js';
import { CliFailure, EXIT_USAGE } from './errors.js';

/** `--topic orders` (every partition) or `--topic orders:0,2`. */
export interface TopicSelection {
  topic: string;
  partitions: number[] | null;
}

export type ResetTo = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'datetime'; timestamp: number } | { kind: 'shift'; by: number };

export interface PlannedReset {
  topic: string;
  partition: number;
  /** the committed offset now (null: none) */
  current: number | null;
  /** the new committed offset */
  offset: number;
  /** high watermark minus the new offset */
  lagAfter: number;
}

export interface ResetPlan {
  group: string;
  /** live members now (a plan for a group with members cannot be applied) */
  members: number;
  rows: PlannedReset[];
}

/** A commander parser for a repeatable `--topic T[:P,P...]`. */
export function topicSelectionArg(value: string, previous: TopicSelection[] | undefined): TopicSelection[] {
  const colon = value.lastIndexOf(':');
  const topic = colon < 0 ? value : value.slice(0, colon);
  if (topic === '') throw new InvalidArgumentError('expected TOPIC or TOPIC:PARTITION,PARTITION...');
  let partitions: number[] | null = null;
  if (colon >= 0) {
    const list = value.slice(colon + 1).split(',');
    if (!list.every((p) => /^\d+$/.test(p.trim()))) throw new InvalidArgumentError(`expected partitions as numbers after "${topic}:", such as ${topic}:0,2`);
    partitions = [...new Set(list.map((p) => Number(p.trim())))].sort((a, b) => a - b);
  }
  return [...(previous ?? []), { topic, partitions }];
}

/** Works out the plan; throws a CliFailure naming the partition or topic when it cannot be made. */
export async function planReset(admin: Admin, group: string, selection: TopicSelection[] | 'all', to: ResetTo): Promise<ResetPlan> {
  let members = 0;
  let committed: CommittedOffset[] = [];
  try {
    const description = await admin.describeGroup(group);
    members = description.members.length;
    committed = description.offsets;
  } catch (err) {
    if (!hasCode(err, 'UNKNOWN_GROUP')) throw err;
    // A group that does not exist yet: resetting creates its offsets (as kafka-consumer-groups.sh does).
  }
  const current = new Map(committed.map((o) => [`${o.topic}/${o.partition}`, o.offset]));
  let topics: TopicSelection[];
  if (selection === 'all') {
    topics = [...new Set(committed.map((o) => o.topic))].sort().map((topic) => ({ topic, partitions: null }));
    if (topics.length === 0) throw new CliFailure(`group ${group} has no committed offsets, so --all-topics selects nothing: name the topics with --topic`);
  } else {
    topics = mergeSelections(selection);
  }

  const rows: PlannedReset[] = [];
  for (const { topic, partitions } of topics) {
    const described = (await admin.describeTopic(topic)).partitions;
    const chosen = partitions ?? described.map((p) => p.partition);
    for (const partition of chosen) {
      const p = described.find((d) => d.partition === partition);
      if (!p) throw new CliFailure(`topic ${topic} has ${described.length} partition(s); there is no partition ${partition}`, EXIT_USAGE);
      const now = current.get(`${topic}/${partition}`) ?? null;
      const offset = clamp(await target(admin, topic, p, now, to, group), p);
      rows.push({ topic, partition, current: now, offset, lagAfter: p.highWatermark - offset });
    }
  }
  return { group, members, rows };
}

/** Applies a plan as one commit; GROUP_NOT_EMPTY from the broker if a member joined since it was made. */
export async function applyReset(admin: Admin, plan: ResetPlan): Promise<void> {
  if (plan.members > 0) throw notEmpty(plan);
  if (plan.rows.length === 0) return;
  await admin.commitOffsets(
    plan.group,
    plan.rows.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
  );
}

export function notEmpty(plan: ResetPlan): CliFailure {
  const members = `${plan.members} live member${plan.members === 1 ? '' : 's'}`;
  return new CliFailure(`GROUP_NOT_EMPTY: group ${plan.group} has ${members}; offsets can only be reset while its consumers are stopped`);
}

function mergeSelections(selection: TopicSelection[]): TopicSelection[] {
  const byTopic = new Map<string, number[] | null>();
  for (const { topic, partitions } of selection) {
    const before = byTopic.get(topic);
    // A whole topic wins over a partition list of the same topic.
    byTopic.set(topic, before === null || partitions === null ? null : [...new Set([...(before ?? []), ...partitions])].sort((a, b) => a - b));
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

async function target(admin: Admin, topic: string, p: PartitionDescription, current: number | null, to: ResetTo, group: string): Promise<number> {
  switch (to.kind) {
    case 'earliest':
      return p.logStartOffset;
    case 'latest':
      return p.highWatermark;
    case 'offset':
      return to.offset;
    case 'datetime':
      return (await admin.listOffset(topic, p.partition, to.timestamp)).offset;
    case 'shift':
      if (current === null) {
        throw new CliFailure(`--shift-by needs a committed offset, and group ${group} has none for ${topic} partition ${p.partition}: use --to-earliest, --to-latest or --to-offset for it`);
      }
      return current + to.by;
  }
}

function clamp(offset: number, p: PartitionDescription): number {
  return Math.min(Math.max(offset, p.logStartOffset), p.highWatermark);
}
