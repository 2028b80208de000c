/**
 * How the CLI's output looks. Listings are aligned tables: a header row in capitals, columns two spaces
 * apart, columns of numbers right-aligned, a missing value shown as "-". With `--json` a listing is one
 * indented JSON document instead (printJson). Every command's --help ends with examples().
 */
export type Cell = string | number | null | undefined;

/** Numbers, sizes ("1.5 KiB") and "-" right-align; anything else left-aligns. */
const NUMERIC = /^(-?\d+(\.\d+)?( [KMGT]?i?B)?|-)$/;

export function renderTable(headers: string[], rows: Cell[][]): string[] {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const numeric = headers.map((_, i) => text.length > 0 && text.every((row) => NUMERIC.test(row[i]!)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)];
}

function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value);
}

/** "key: value" lines with the keys padded to one width (a record shown vertically). */
export function renderFields(fields: [string, Cell][]): string[] {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${cellText(value)}`);
}

/** 1536 → "1.5 KiB": sizes in listings; the exact byte count is in the --json form. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Prints a JSON document (the `--json` form of every listing). */
export function printJson(out: (line: string) => void, document: unknown): void {
  out(JSON.stringify(document, null, 2));
}

/** The "Examples:" block of a command's --help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}`;
}

/** Keys, values and header values as printed: UTF-8 text, or base64 for binary data; null stays null. */
export function bytesText(bytes: Buffer | null, encoding: 'utf8' | 'base64'): string | null {
  return bytes === null ? null : bytes.toString(encoding);
}
