/** Validation of client options: a wrong option is an INVALID_CONFIG error at construction, not a surprise later. */
import { invalidOption } from './errors.js';

export function intOption(options: object, key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`${key} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return value;
}

export function enumOption<T extends string>(options: object, key: string, allowed: readonly T[], fallback: T): T {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalidOption(`${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function boolOption(options: object, key: string, fallback: boolean): boolean {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(`${key} must be true or false, not ${JSON.stringify(value)}`);
  return value;
}
