/**
 * Share-group metrics, computed when scraped: counters of deliveries and acks since start-up, and per group
 * and partition the records leased and available (the lag a worker pool has to clear).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ShareGroupManager } from '../share-groups/share-group-manager.js';
import type { ShareGroupStats } from '../share-groups/share-group-stats.js';
import type { TopicManager } from '../topics/topic-manager.js';

const COUNTERS: [keyof ShareGroupStats, string, string][] = [
  ['delivered', 'sluice_share_records_delivered_total', 'leases handed out by share-group receives'],
  ['redelivered', 'sluice_share_records_redelivered_total', 'of the deliveries, second or later ones (deliveryCount > 1)'],
  ['accepted', 'sluice_share_records_accepted_total', 'records accepted'],
  ['released', 'sluice_share_records_released_total', 'leases released by receivers'],
  ['rejected', 'sluice_share_records_rejected_total', 'records rejected'],
  ['expired', 'sluice_share_leases_expired_total', 'leases that ended by their visibility timeout'],
  ['archived', 'sluice_share_records_max_deliveries_total', 'records not delivered again after maxDeliveryCount'],
  ['deadLettered', 'sluice_share_records_dead_lettered_total', 'records appended to a dead-letter topic'],
];

export function watchShareGroups(registry: Registry, manager: ShareGroupManager, topics: TopicManager): void {
  for (const [field, name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(manager.stats[field]);
      },
    });
  }
  const perPartition = (name: string, help: string, value: (sp: { acquiredCount: number; availableCount: number; endOffset: number }, highWatermark: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { group, sp } of manager.allSharePartitions()) {
          let highWatermark = sp.endOffset;
          try {
            highWatermark = topics.partition(sp.topic, sp.partition).highWatermark;
          } catch {
            continue;
          }
          this.set({ group, topic: sp.topic, partition: String(sp.partition) }, value(sp, highWatermark));
        }
      },
    });
  perPartition('sluice_share_group_acquired', 'records leased now, per share group and partition', (sp) => sp.acquiredCount);
  perPartition('sluice_share_group_lag', 'records neither accepted nor rejected up to the high watermark, per share group and partition', (sp, hw) => sp.acquiredCount + sp.availableCount + Math.max(0, hw - sp.endOffset));
}
