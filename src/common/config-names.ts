/**
 * Kafka's dotted config names next to sluice's camelCase keys. `retention.ms` is `retentionMs`, and so on
 * by rule (dots or underscores between lowercase words); the few names Kafka spells differently are listed.
 * The CLI accepts the dotted names; the broker names the key it meant when it refuses an unknown one.
 */
const KAFKA_NAMES = new Map<string, string>([['compression.type', 'compression']]);

/** `retention.ms` → `retentionMs`; a name without dots or underscores is returned as it is. */
export function camelKeyOf(name: string): string {
  const special = KAFKA_NAMES.get(name.toLowerCase());
  if (special !== undefined) return special;
  if (!/[._]/.test(name)) return name;
  return name.toLowerCase().replace(/[._]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The known key a mistyped one most likely meant (Kafka's dotted name, other case), or null. */
export function suggestKey(name: string, known: readonly string[]): string | null {
  const camel = camelKeyOf(name);
  const exact = known.find((k) => k === camel) ?? known.find((k) => k.toLowerCase() === camel.toLowerCase());
  return exact ?? null;
}
