/**
 * The client's view of a cluster: one `HttpClient` (keep-alive pool) per broker it talks to, and where each
 * partition and group is served. Requests that name a `route` go straight to the partition's leader or the
 * group's coordinator when known; everything else goes to a bootstrap broker (any broker answers topic reads
 * and admin writes).
 *
 * Where things are is learned two ways, as Kafka's clients do:
 * - from metadata: `learnTopic` maps each partition's leader id to its advertised URL (`GET /cluster`);
 * - from redirects: a broker that does not lead a partition (or coordinate a group) answers 307 with the
 *   right broker's URL; the request is sent there at once, and the route remembered.
 * A route is forgotten when its broker says 503 NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR (no leader known
 * yet: the caller retries, and the next attempt asks a bootstrap broker) or cannot be reached. A bootstrap
 * broker that cannot be reached is rotated out for the next request, so a list of brokers rides out the loss
 * of any of them. A single broker (one URL, or a cluster of one) is always used through the URL it was given:
 * its advertised URL may not be reachable from here (a broker bound to 0.0.0.0).
 */
import { BrokerError } from './errors.js';
import { brokerUrlText, parseBrokerAddress } from './broker-address.js';
import { HttpClient, type HttpClientOptions, type QueryValue, type RawResponse, type RequestOptions } from './http.js';
import { withRetries, type BackoffOptions } from './retry.js';
import type { TopicDescription } from './types.js';

/** What a request is about, so it can go to the broker that serves it. */
export type Route = { topic: string; partition: number } | { group: string };

export interface RoutedRequestOptions extends RequestOptions {
  route?: Route;
}

interface ClusterView {
  brokers: { id: number; url: string; alive: boolean }[];
}

/** Redirects followed for one request before giving up (a leader moving twice while the request travels). */
const MAX_REDIRECTS = 3;
/** How long the broker id -> URL map is trusted before a metadata load fetches it again. */
const CLUSTER_VIEW_MAX_AGE_MS = 10_000;

/** The brokers to bootstrap from: a URL, a list, or a comma-separated string of them. */
export function brokerList(broker: string | readonly string[], name = 'broker'): string[] {
  const list = (typeof broker === 'string' ? broker.split(',') : [...broker]).map((b) => b.trim()).filter((b) => b.length > 0);
  if (list.length === 0) throw new BrokerError('INVALID_CONFIG', `${name} needs at least one broker URL`);
  return list.map((b) => brokerUrlText(parseBrokerAddress(b, name)));
}

function routeKey(route: Route): string {
  return 'group' in route ? `g\u0000${route.group}` : `p\u0000${route.topic}\u0000${route.partition}`;
}

export class Brokers {
  private readonly bootstrap: string[];
  private current = 0;
  private readonly clients = new Map<string, HttpClient>();
  private readonly routes = new Map<string, string>();
  private view: { at: number; urls: Map<number, string>; size: number } | null = null;
  private viewLoad: Promise<void> | null = null;
  private closed = false;

  constructor(
    broker: string | readonly string[],
    private readonly options: HttpClientOptions = {},
  ) {
    this.bootstrap = brokerList(broker);
  }

  /** The bootstrap broker requests without a known route go to now. */
  get baseUrl(): string {
    return this.bootstrapClient().baseUrl;
  }

  /** The URL a request with this route would go to now (the fetcher groups partitions by it). */
  urlFor(route: Route | undefined): string {
    return this.clientFor(route).baseUrl;
  }

  /** Sends a request and returns the parsed JSON reply (undefined for 204); a non-2xx status throws. */
  async json<T>(method: string, path: string, options: RoutedRequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, { accept: 'application/json', ...options });
    if (response.status === 204 || response.body.length === 0) return undefined as T;
    return JSON.parse(response.body.toString('utf8')) as T;
  }

  /** A GET of JSON, retried on retriable errors until `deadlineMs` (reads are safe to repeat). */
  getWithRetries<T>(path: string, deadlineMs: number, backoff: BackoffOptions, query?: Record<string, QueryValue>, route?: Route): Promise<T> {
    return withRetries(() => this.json<T>('GET', path, { query, route }), deadlineMs, backoff, undefined, `GET ${path}`);
  }

  /** Sends a request to the broker that serves its route, following redirects; a non-2xx status throws. */
  async request(method: string, path: string, options: RoutedRequestOptions = {}): Promise<RawResponse> {
    const { route, ...rest } = options;
    let client = this.clientFor(route);
    for (let hop = 0; ; hop++) {
      try {
        return await client.request(method, path, rest);
      } catch (err) {
        if (!(err instanceof BrokerError) || options.signal?.aborted) throw err;
        const moved = err.code === 'NOT_LEADER_OR_FOLLOWER' || err.code === 'NOT_COORDINATOR';
        const leaderUrl = err.details?.leaderUrl;
        if (moved && typeof leaderUrl === 'string' && hop < MAX_REDIRECTS && !this.closed) {
          const origin = originOf(leaderUrl);
          if (origin !== null) {
            if (route) this.routes.set(routeKey(route), origin);
            client = this.client(origin);
            continue;
          }
        }
        this.failed(client, route, err, moved);
        throw err;
      }
    }
  }

  /** Forgets where a partition or group is served (its broker said it no longer serves it). */
  forget(route: Route): void {
    this.routes.delete(routeKey(route));
  }

  /**
   * Learns each partition's leader from a topic description (`GET /topics/:topic`), with the broker URLs of
   * `GET /cluster`. A partition without a leader, or whose leader is not known to be alive, is forgotten.
   */
  async learnTopic(description: TopicDescription): Promise<void> {
    const view = await this.clusterView().catch(() => null);
    if (!view) return;
    for (const p of description.partitions as { partition: number; leader?: number }[]) {
      const route = routeKey({ topic: description.name, partition: p.partition });
      const url = view.size > 1 && typeof p.leader === 'number' ? view.urls.get(p.leader) : undefined;
      const origin = url === undefined ? null : originOf(url);
      if (origin === null) this.routes.delete(route);
      else this.routes.set(route, origin);
    }
  }

  /** Loads a topic's description and learns its leaders (a partition's leader moved, or was never known). */
  async refreshTopic(topic: string): Promise<TopicDescription> {
    const description = await this.json<TopicDescription>('GET', `/topics/${encodeURIComponent(topic)}`);
    this.view = null;
    await this.learnTopic(description);
    return description;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  private async clusterView(): Promise<NonNullable<Brokers['view']>> {
    if (this.view && Date.now() - this.view.at < CLUSTER_VIEW_MAX_AGE_MS) return this.view;
    this.viewLoad ??= this.json<ClusterView>('GET', '/cluster')
      .then((cluster) => {
        const alive = cluster.brokers.filter((b) => b.alive);
        this.view = { at: Date.now(), urls: new Map(alive.map((b) => [b.id, b.url])), size: cluster.brokers.length };
      })
      .finally(() => (this.viewLoad = null));
    await this.viewLoad;
    return this.view!;
  }

  private bootstrapClient(): HttpClient {
    return this.client(this.bootstrap[this.current % this.bootstrap.length]!);
  }

  private clientFor(route: Route | undefined): HttpClient {
    const origin = route && this.routes.get(routeKey(route));
    return origin ? this.client(origin) : this.bootstrapClient();
  }

  private client(url: string): HttpClient {
    let client = this.clients.get(url);
    if (!client) {
      client = new HttpClient(url, this.options);
      this.clients.set(url, client);
    }
    return client;
  }

  /** A request failed: forget the routes through a broker that cannot serve them, move off a dead bootstrap. */
  private failed(client: HttpClient, route: Route | undefined, err: BrokerError, moved: boolean): void {
    if (route && moved) this.routes.delete(routeKey(route));
    if (err.code !== 'BROKER_NOT_AVAILABLE' && err.code !== 'REQUEST_TIMED_OUT') return;
    for (const [key, origin] of this.routes) if (origin === client.baseUrl) this.routes.delete(key);
    if (client === this.bootstrapClient() && this.bootstrap.length > 1) this.current++;
  }
}

function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}
