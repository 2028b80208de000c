/**
 * Declarative settings: one table per kind of config (broker, topic) from which defaults, validation,
 * command-line flags, environment variables, `--help` text and the docs table are all derived, so they can
 * never disagree. A key `fooBarMs` is the flag `--foo-bar-ms`, the env var `SLUICE_FOO_BAR_MS` and the
 * JSON config file key `fooBarMs`.
 */
export type SettingType = 'integer' | 'string' | 'enum' | 'boolean';

export interface SettingSpec {
  key: string;
  type: SettingType;
  /** `null` means "none / unlimited" (only when `nullable`) */
  default: number | string | boolean | null;
  nullable?: boolean;
  unit?: 'ms' | 'bytes' | 'count';
  min?: number;
  max?: number;
  choices?: readonly string[];
  doc: string;
}

export type SettingValue = number | string | boolean | null;

/**
 * The value type one spec describes: its choices for an enum, else its type, with `null` when nullable.
 * Works on specs declared `as const`, so that a table is the one declaration of its keys and their types.
 */
export type SettingValueOf<S extends SettingSpec> =
  | (S extends { type: 'enum'; choices: readonly (infer C)[] } ? C : S extends { type: 'integer' } ? number : S extends { type: 'boolean' } ? boolean : string)
  | (S extends { nullable: true } ? null : never);

/**
 * The config object a table declared `as const` describes: one property per key, typed by its spec (a table
 * typed only as `SettingSpec[]` gives a plain record).
 */
export type SettingsOf<Specs extends readonly SettingSpec[]> = string extends Specs[number]['key']
  ? Record<string, SettingValue>
  : { -readonly [S in Specs[number] as S['key']]: SettingValueOf<S> };

export function flagOf(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function envOf(key: string): string {
  return 'SLUICE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** Checks and converts one value (from JSON, an env var or a flag); returns an error message or the value. */
export function coerce(spec: SettingSpec, raw: unknown, fromText: boolean): { value: SettingValue } | { error: string } {
  if (raw === null || (fromText && raw === 'null')) {
    return spec.nullable ? { value: null } : { error: `${spec.key} cannot be null` };
  }
  switch (spec.type) {
    case 'integer': {
      const n = fromText && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return { error: `${spec.key} must be an integer, got ${JSON.stringify(raw)}` };
      if (spec.min !== undefined && n < spec.min) return { error: `${spec.key} must be >= ${spec.min}, got ${n}` };
      if (spec.max !== undefined && n > spec.max) return { error: `${spec.key} must be <= ${spec.max}, got ${n}` };
      return { value: n };
    }
    case 'boolean': {
      const b = fromText && typeof raw === 'string' ? ({ true: true, false: false } as Record<string, boolean>)[raw] : raw;
      return typeof b === 'boolean' ? { value: b } : { error: `${spec.key} must be true or false, got ${JSON.stringify(raw)}` };
    }
    case 'enum':
      return typeof raw === 'string' && spec.choices!.includes(raw)
        ? { value: raw }
        : { error: `${spec.key} must be one of ${spec.choices!.join(', ')}, got ${JSON.stringify(raw)}` };
    case 'string':
      return typeof raw === 'string' && raw.length > 0 ? { value: raw } : { error: `${spec.key} must be a non-empty string` };
  }
}

/** The defaults of a table, typed by it (each default is checked against its own spec by a test). */
export function defaultsOf<const Specs extends readonly SettingSpec[]>(specs: Specs): SettingsOf<Specs> {
  return Object.fromEntries(specs.map((s) => [s.key, s.default])) as SettingsOf<Specs>;
}

function formatDefault(spec: SettingSpec): string {
  if (spec.default === null) return 'none';
  if (typeof spec.default === 'number') return spec.default.toLocaleString('en-US');
  return String(spec.default);
}

function formatRange(spec: SettingSpec): string {
  if (spec.choices) return spec.choices.join(' \\| ');
  const parts: string[] = [];
  if (spec.min !== undefined) parts.push(`>= ${spec.min.toLocaleString('en-US')}`);
  if (spec.max !== undefined) parts.push(`<= ${spec.max.toLocaleString('en-US')}`);
  if (spec.nullable) parts.push('or null');
  return parts.join(', ');
}

/** The Markdown table for docs/operations.md. */
export function markdownTable(specs: readonly SettingSpec[], withFlags: boolean): string {
  const head = withFlags
    ? '| key | flag | env var | default | unit | allowed | meaning |\n|---|---|---|---|---|---|---|'
    : '| key | default | unit | allowed | meaning |\n|---|---|---|---|---|';
  const rows = specs.map((s) =>
    withFlags
      ? `| \`${s.key}\` | \`${flagOf(s.key)}\` | \`${envOf(s.key)}\` | ${formatDefault(s)} | ${s.unit ?? ''} | ${formatRange(s)} | ${s.doc} |`
      : `| \`${s.key}\` | ${formatDefault(s)} | ${s.unit ?? ''} | ${formatRange(s)} | ${s.doc} |`,
  );
  return [head, ...rows].join('\n');
}
