import { describe, expect, it } from 'vitest';
import { crc32c, crcImplementation } from '../../src/log/crc32c.js';

describe('CRC-32C', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234')))).toBe(0xe3069283);
  });

  it('uses the native SSE4.2 implementation (the sse4_crc32 addon must build during npm ci)', () => {
    // fast-crc32c falls back to JavaScript silently and ~15x slower; on this project's machines that is a
    // broken install, so the suite says so instead of running slow.
    expect(crcImplementation).toBe('sse4.2');
  });
});
