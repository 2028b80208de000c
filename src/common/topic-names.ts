/** Names and keys shared by every layer: the internal-topic prefix and the map key of a topic partition. */

/** Topics whose name starts with this are the broker's own. */
export const INTERNAL_TOPIC_PREFIX = '__';

/** A map key for a topic partition (topic names cannot contain NUL). */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
