/**
 * The declarative message schemas of src/kafka/schemas/*.json: one file per API, with the versions sluice
 * implements, whether they are flexible (compact types and tagged fields from `flexibleFrom` on), and the
 * request and response fields with their version ranges. Field names, types and ranges are Kafka's protocol
 * (its published message definitions), restricted to the versions sluice implements.
 *
 * Field types: int8, int16, uint16, int32, int64, float64, bool, string, bytes, records, uuid, an array
 * `[]T` of a type, or a struct (a capitalised type name with `fields`). Ranges: "3+", "3-7" or "3".
 */
export interface FieldSchema {
  name: string;
  type: string;
  versions: string;
  /** versions in which the value may be null */
  nullable?: string;
  /** a tagged field (flexible versions only): its tag and the versions that carry it */
  tag?: number;
  taggedVersions?: string;
  default?: string;
  /** may be dropped when the version lacks it (informational) */
  ignorable?: boolean;
  fields?: FieldSchema[];
}

export interface ApiSchema {
  apiKey: number;
  name: string;
  /** "min-max" implemented */
  versions: string;
  /** first flexible version, null when none of the implemented ones is */
  flexibleFrom: number | null;
  request: FieldSchema[];
  response: FieldSchema[];
}

export type Range = readonly [number, number];

/** A version range, open ranges ending at `max`. */
export function parseRange(text: string, max: number): Range {
  const m = /^(\d+)(?:(\+)|-(\d+))?$/.exec(text);
  if (!m) throw new Error(`bad version range ${JSON.stringify(text)}`);
  const from = Number(m[1]);
  return [from, m[2] ? max : Number(m[3] ?? from)];
}

export function apiRange(schema: ApiSchema): Range {
  const [min, max] = schema.versions.split('-').map(Number);
  if (min === undefined || max === undefined || !(min <= max)) throw new Error(`${schema.name}: bad versions ${schema.versions}`);
  return [min, max];
}
