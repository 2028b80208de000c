/**
 * Samples, once a second, the CPU (% of one core) and RSS of the server processes and of the client
 * processes, from /proc, and the broker's event-loop delay: sluice's /metrics exposes prom-client's
 * monitorEventLoopDelay figures (sluice_nodejs_eventloop_lag_p99_seconds, _max_seconds), which prom-client
 * resets after each scrape, so each sample covers the second since the last one.
 */
import { readFileSync } from 'node:fs';
import { processCpuTimeMs } from '../lib/child-processes.js';

export interface ProcessSeries {
  /** CPU per second, % of one core */
  cpuPercent: number[];
  rssMb: number[];
}

export interface Samples {
  /** seconds since the run's start of each sample */
  atSeconds: number[];
  servers: ProcessSeries;
  clients: ProcessSeries;
  /** the busiest single client process per second, % of one core */
  busiestClientPercent: number[];
  eventLoopP99Ms: number[];
  eventLoopMaxMs: number[];
}

function rssMb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function cpuMs(pid: number): number | null {
  try {
    return processCpuTimeMs(pid);
  } catch {
    return null;
  }
}

async function eventLoop(metricsUrl: string): Promise<{ p99: number; max: number } | null> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const value = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) * 1000 : Number.NaN;
    };
    return { p99: value('sluice_nodejs_eventloop_lag_p99_seconds'), max: value('sluice_nodejs_eventloop_lag_max_seconds') };
  } catch {
    return null;
  }
}

export class Sampler {
  readonly samples: Samples = {
    atSeconds: [],
    servers: { cpuPercent: [], rssMb: [] },
    clients: { cpuPercent: [], rssMb: [] },
    busiestClientPercent: [],
    eventLoopP99Ms: [],
    eventLoopMaxMs: [],
  };
  private last = new Map<number, number>();
  private lastAt = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly serverPids: () => number[],
    private readonly clientPids: () => number[],
    private readonly metricsUrl: string | null,
    private readonly startMs: number,
  ) {}

  start(): void {
    for (const pid of [...this.serverPids(), ...this.clientPids()]) this.last.set(pid, cpuMs(pid) ?? 0);
    this.lastAt = performance.now();
    if (this.metricsUrl) void eventLoop(this.metricsUrl); // resets the broker's histogram
    this.timer = setInterval(() => (this.busy = this.busy.then(() => this.sample())), 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  private async sample(): Promise<void> {
    const now = performance.now();
    const elapsedMs = now - this.lastAt;
    this.lastAt = now;
    const series = (pids: number[]) => {
      let cpu = 0;
      let rss = 0;
      let busiest = 0;
      for (const pid of pids) {
        const used = cpuMs(pid);
        if (used === null) continue;
        const percent = ((used - (this.last.get(pid) ?? used)) / elapsedMs) * 100;
        this.last.set(pid, used);
        cpu += percent;
        busiest = Math.max(busiest, percent);
        rss += rssMb(pid);
      }
      return { cpu, rss, busiest };
    };
    const servers = series(this.serverPids());
    const clients = series(this.clientPids());
    const s = this.samples;
    s.atSeconds.push(Math.round((performance.timeOrigin + now - this.startMs) / 100) / 10);
    s.servers.cpuPercent.push(servers.cpu);
    s.servers.rssMb.push(servers.rss);
    s.clients.cpuPercent.push(clients.cpu);
    s.clients.rssMb.push(clients.rss);
    s.busiestClientPercent.push(clients.busiest);
    const loop = this.metricsUrl ? await eventLoop(this.metricsUrl) : null;
    s.eventLoopP99Ms.push(loop?.p99 ?? Number.NaN);
    s.eventLoopMaxMs.push(loop?.max ?? Number.NaN);
  }
}
