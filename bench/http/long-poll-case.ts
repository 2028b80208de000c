/**
 * What waiting fetches cost the broker while nothing happens: `longPollWaiters` fetches at the high watermark
 * of an empty partition with maxWaitMs `longPollMaxWaitMs`, each on its own connection, then the broker
 * process's CPU time (utime + stime of /proc/<pid>/stat, all threads; clock ticks, so 10 ms steps) over
 * `longPollIdleMs`, and the same at ns precision from every thread's /proc/<pid>/task/<tid>/schedstat.
 * Baseline: the same broker over the same span with no waiter, measured just before. No target: the docs
 * promise that waiting fetches cost no CPU (they are woken by the append, not by polling), and this shows it.
 *
 * Each state is measured over two consecutive spans and the smaller is reported (both are in the details):
 * V8's memory reducer runs a few full garbage collections some seconds after a burst of activity (such as
 * 500 requests arriving), ~70 ms of CPU at once, which would otherwise land in one state or the other by
 * chance.
 *
 * The waiters are counted through the broker's sluice_fetch_long_poll_waiting gauge before and after the
 * idle span (never during it: a scrape costs CPU), then woken by producing one record; the time until all
 * of them have answered is reported too.
 */
import { makeResult, type BenchResult } from '../lib/results.js';
import type { ServiceProcess } from '../lib/child-processes.js';
import type { HttpBench } from './context.js';
import { openPool, send } from './load.js';
import { jsonProduceBody, nextOffsetOfJsonTail } from './payloads.js';
import { brokerMetric, createTopic, deleteTopic } from './servers.js';

const WAITING_GAUGE = 'sluice_fetch_long_poll_waiting';
const SETTLE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface CpuSpan {
  /** from /proc/<pid>/stat, clock-tick resolution */
  cpuMs: number;
  /** from the threads' schedstat, ns resolution (null where the kernel has none) */
  schedstatMs: number | null;
}

async function idleCpu(broker: ServiceProcess, ms: number): Promise<CpuSpan> {
  const cpu0 = broker.cpuTimeMs();
  const ns0 = broker.cpuTimeNs();
  await sleep(ms);
  const cpu1 = broker.cpuTimeMs();
  const ns1 = broker.cpuTimeNs();
  return { cpuMs: cpu1 - cpu0, schedstatMs: ns0 === null || ns1 === null ? null : (ns1 - ns0) / 1e6 };
}

/** Two consecutive spans; the one with less CPU time (by schedstat where there is one). */
async function quieterOfTwo(broker: ServiceProcess, ms: number): Promise<{ span: CpuSpan; spans: CpuSpan[] }> {
  const spans = [await idleCpu(broker, ms), await idleCpu(broker, ms)];
  const key = (c: CpuSpan) => c.schedstatMs ?? c.cpuMs;
  return { span: key(spans[0]!) <= key(spans[1]!) ? spans[0]! : spans[1]!, spans };
}

async function waitForWaiters(broker: ServiceProcess, count: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let waiting = 0;
  while (performance.now() < deadline) {
    waiting = await brokerMetric(broker, WAITING_GAUGE);
    if (waiting >= count) return waiting;
    await sleep(50);
  }
  throw new Error(`only ${waiting} of ${count} fetches are waiting after ${timeoutMs} ms`);
}

export async function longPollCases(bench: HttpBench): Promise<BenchResult[]> {
  const s = bench.settings;
  const { broker } = bench;
  const n = s.longPollWaiters;
  bench.ctx.progress.startCase(`${n} waiting fetches (long poll), broker CPU over ${s.longPollIdleMs / 1000} s idle`);
  const topic = 'long-poll';
  await createTopic(broker, topic, 1);
  const pool = openPool(broker.url, n);
  // the waiters hold every connection of `pool`: the record that wakes them goes through its own
  const control = openPool(broker.url, 1);
  try {
    await sleep(SETTLE_MS);
    const { span: idle, spans: idleSpans } = await quieterOfTwo(broker, s.longPollIdleMs);

    const started = performance.now();
    const path = `/topics/${topic}/partitions/0/records?offset=0&maxWaitMs=${s.longPollMaxWaitMs}`;
    const replies = Array.from({ length: n }, () => send(pool, { method: 'GET', path }));
    replies.forEach((r) => r.catch(() => undefined)); // awaited below; keeps an early failure from being unhandled
    await waitForWaiters(broker, n, Math.min(15_000, s.longPollMaxWaitMs - 2 * s.longPollIdleMs - 2000));
    const establishedMs = performance.now() - started;
    await sleep(SETTLE_MS);
    const { span: waiting, spans: waitingSpans } = await quieterOfTwo(broker, s.longPollIdleMs);
    const stillWaiting = await brokerMetric(broker, WAITING_GAUGE);
    if (stillWaiting !== n) throw new Error(`${n - stillWaiting} fetches stopped waiting during the idle span`);

    const woken = performance.now();
    await send(control, { method: 'POST', path: `/topics/${topic}/records`, headers: { 'content-type': 'application/json' }, body: jsonProduceBody([bench.values[0]!], 0) });
    const answered = await Promise.all(replies);
    const wakeAllMs = performance.now() - woken;
    const wrong = answered.filter((r) => nextOffsetOfJsonTail(r.tail) !== 1).length;
    if (wrong > 0) throw new Error(`${wrong} of ${n} woken fetches did not return the one new record`);

    const common = {
      group: 'Long polling (no target)',
      params: { waiters: n, maxWaitMs: s.longPollMaxWaitMs, idleMs: s.longPollIdleMs },
      unit: 'ms' as const,
      better: 'lower' as const,
      details: { waitersEstablishedMs: establishedMs, wakeAllMs, spansWithoutWaiters: idleSpans, spansWithWaiters: waitingSpans },
    };
    const span = `broker CPU time over ${s.longPollIdleMs / 1000} s idle (quieter of two spans), ${n} fetches waiting (maxWaitMs ${s.longPollMaxWaitMs})`;
    const results = [
      makeResult({
        ...common,
        id: 'long-poll.idle-cpu',
        name: `${span}, utime + stime from /proc/<pid>/stat`,
        value: waiting.cpuMs,
        baseline: { name: 'the same broker with no fetch waiting', value: idle.cpuMs },
      }),
    ];
    if (waiting.schedstatMs !== null && idle.schedstatMs !== null) {
      results.push(
        makeResult({
          ...common,
          id: 'long-poll.idle-cpu.schedstat',
          name: `${span}, ns-precise from the threads' schedstat`,
          value: waiting.schedstatMs,
          baseline: { name: 'the same broker with no fetch waiting', value: idle.schedstatMs },
        }),
      );
    }
    results.forEach((r) => bench.ctx.report(r));
    return results;
  } finally {
    await pool.destroy();
    await control.close();
    await deleteTopic(broker, topic);
  }
}
