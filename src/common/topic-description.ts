/**
 * The shape of one partition in `GET /topics/:topic` (the HTTP contract), shared by the broker that builds it
 * and the client that reads it.
 */
export interface PartitionDescription {
  partition: number;
  /** broker id, or -1 while the partition has none */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
  sizeBytes: number;
  segments: number;
  /** present (true) when the partition refuses requests after an I/O error or failed to load */
  offline?: true;
  /** present (true) on the leader when the ISR is smaller than the replicas */
  underReplicated?: true;
  /**
   * Present when the answering broker leads the partition and has followers: each follower's lag, in records
   * behind the leader's log end (null until it fetched in this leader epoch) and in ms since it was caught up.
   */
  followers?: { broker: number; lagRecords: number | null; lagMs: number }[];
}
