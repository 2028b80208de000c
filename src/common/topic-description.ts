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
}
