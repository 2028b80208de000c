/**
 * Compare-and-swap writes to etcd: the only way src/cluster changes shared state. A write names the mod
 * revision it was based on (0: the key must not exist) and etcd applies it only if the key still has that
 * revision, so a writer working from an old read can never overwrite newer state. Optional fences add more
 * conditions to the same transaction: a key that must still exist with a given create revision (the
 * controller's election key, so a deposed controller's writes are refused by etcd itself).
 *
 * While etcd is unreachable a write is retried (50 ms doubling to 500 ms) until its deadline, then fails
 * with BROKER_NOT_AVAILABLE. A retried transaction may have been applied the first time (its reply lost):
 * every value carries a random `writeId`, and a refused write whose key holds its own writeId succeeded.
 *
 * Values are JSON objects; `writeId` is added on write and removed by `decodeValue`.
 */
import { randomUUID } from 'node:crypto';
import type { Namespace } from 'etcd3';
import { BrokerError } from '../common/errors.js';
import { etcdError, isEtcdTransient, pause, revisionOf } from './etcd-client.js';

/** A key that must exist with exactly this create revision for a write to apply. */
export interface Fence {
  key: string;
  createRevision: number;
}

export interface WriteOptions {
  /** names the change in errors ("creating topic orders") */
  what: string;
  /** give up (BROKER_NOT_AVAILABLE) when etcd has not been reachable for this long */
  timeoutMs: number;
  fences?: Fence[];
}

export type WriteResult =
  | { written: true; revision: number }
  | { written: false; reason: 'stale'; key: string; current: { value: string; modRevision: number } | undefined }
  | { written: false; reason: 'fenced'; fence: Fence };

export function encodeValue(value: object, writeId: string): string {
  return JSON.stringify({ ...value, writeId });
}

/** The object written by encodeValue, without its writeId. Throws on anything that is not a JSON object. */
export function decodeValue<T>(text: string): T {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
  const { writeId: _writeId, ...rest } = parsed as Record<string, unknown>;
  return rest as T;
}

function writeIdOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { writeId?: unknown }).writeId;
  } catch {
    return undefined;
  }
}

/** Puts `value` at `key` if the key's mod revision is still `expectedModRevision` (0: absent) and the fences hold. */
export function casPut(ns: Namespace, key: string, expectedModRevision: number, value: object, options: WriteOptions): Promise<WriteResult> {
  return casPutAll(ns, [{ key, expectedModRevision, value }], options);
}

export interface KeyWrite {
  key: string;
  /** 0: the key must not exist */
  expectedModRevision: number;
  value: object;
}

/**
 * Several puts in one transaction: all applied or none. etcd allows 128 operations per transaction
 * (`--max-txn-ops`): callers keep to MAX_KEYS_PER_TXN keys.
 */
export function casPutAll(ns: Namespace, writes: KeyWrite[], options: WriteOptions): Promise<WriteResult> {
  if (writes.length === 0 || writes.length > MAX_KEYS_PER_TXN) throw new RangeError(`a transaction writes 1 to ${MAX_KEYS_PER_TXN} keys, not ${writes.length}`);
  const writeId = randomUUID();
  const puts = writes.map((w) => ns.put(w.key).value(encodeValue(w.value, writeId)));
  return withRetries(ns, writes, options, (txn) => txn.then(...puts), (current) => current !== undefined && writeIdOf(current) === writeId);
}

/** Deletes `key` if its mod revision is still `expectedModRevision` and the fences hold; a key already gone counts as deleted. */
export function casDelete(ns: Namespace, key: string, expectedModRevision: number, options: WriteOptions): Promise<WriteResult> {
  return withRetries(ns, [{ key, expectedModRevision }], options, (txn) => txn.then(ns.delete().key(key)), (current) => current === undefined);
}

export const MAX_KEYS_PER_TXN = 100;

type Txn = ReturnType<Namespace['if']>;

async function withRetries(
  ns: Namespace,
  expected: { key: string; expectedModRevision: number }[],
  options: WriteOptions,
  operation: (txn: Txn) => Txn,
  isOwnResult: (current: string | undefined) => boolean,
): Promise<WriteResult> {
  const deadline = Date.now() + options.timeoutMs;
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 500)) {
    try {
      let txn = ns.if(expected[0]!.key, 'Mod', '==', expected[0]!.expectedModRevision);
      for (const e of expected.slice(1)) txn = txn.and(e.key, 'Mod', '==', e.expectedModRevision);
      for (const fence of options.fences ?? []) txn = txn.and(fence.key, 'Create', '==', fence.createRevision);
      const result = await operation(txn).commit();
      if (result.succeeded) return { written: true, revision: revisionOf(result.header.revision) };
      return await explainRefusal(ns, expected, options.fences ?? [], isOwnResult);
    } catch (err) {
      if (!isEtcdTransient(err) || Date.now() + delayMs >= deadline) throw etcdError(options.what, err);
      await pause(delayMs);
    }
  }
}

/**
 * Why a transaction was refused: it had been applied after all (an earlier attempt whose reply was lost:
 * the first key holds its writeId), a fence no longer holds, or a key moved on (the first such is returned).
 */
async function explainRefusal(
  ns: Namespace,
  expected: { key: string; expectedModRevision: number }[],
  fences: Fence[],
  isOwnResult: (current: string | undefined) => boolean,
): Promise<WriteResult> {
  const [keys, fenceKeys] = await Promise.all([Promise.all(expected.map((e) => ns.get(e.key).exec())), Promise.all(fences.map((f) => ns.get(f.key).exec()))]);
  const firstKv = keys[0]!.kvs[0];
  if (isOwnResult(firstKv?.value.toString('utf8'))) return { written: true, revision: firstKv ? revisionOf(firstKv.mod_revision) : revisionOf(keys[0]!.header.revision) };
  for (const [i, fence] of fences.entries()) {
    const fenceKv = fenceKeys[i]!.kvs[0];
    if (!fenceKv || revisionOf(fenceKv.create_revision) !== fence.createRevision) return { written: false, reason: 'fenced', fence };
  }
  for (const [i, e] of expected.entries()) {
    const kv = keys[i]!.kvs[0];
    const modRevision = kv ? revisionOf(kv.mod_revision) : 0;
    if (modRevision !== e.expectedModRevision) return { written: false, reason: 'stale', key: e.key, current: kv ? { value: kv.value.toString('utf8'), modRevision } : undefined };
  }
  // Every condition holds now: it changed and changed back between the transaction and this read.
  return { written: false, reason: 'stale', key: expected[0]!.key, current: firstKv ? { value: firstKv.value.toString('utf8'), modRevision: revisionOf(firstKv.mod_revision) } : undefined };
}

/** For callers that cannot go on after a refused write: the refusal as a retriable BrokerError. */
export function refusedWrite(what: string, result: Exclude<WriteResult, { written: true }>): BrokerError {
  const why = result.reason === 'fenced' ? `fenced off (${result.fence.key} changed)` : 'another broker changed the same metadata at the same time; retry';
  return new BrokerError('BROKER_NOT_AVAILABLE', `${what} failed: ${why}`, { details: { reason: result.reason } });
}
