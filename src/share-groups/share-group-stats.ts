/** Counters of share-group work since start-up, read by the metrics (plain numbers: no metrics library here). */
export class ShareGroupStats {
  /** leases handed out */
  delivered = 0;
  /** of which a second or later delivery */
  redelivered = 0;
  accepted = 0;
  released = 0;
  rejected = 0;
  /** leases that ended by timing out */
  expired = 0;
  /** records not delivered again after maxDeliveryCount */
  archived = 0;
  /** records appended to a dead-letter topic */
  deadLettered = 0;
}
