/**
 * The Kafka protocol listener: a TCP server (node:net) speaking Kafka's binary protocol over the broker's
 * own parts, next to the HTTP API. Off by default; `--kafka-listener HOST:PORT` turns it on. Shutdown closes
 * the server and every connection (held fetches and joins stop waiting).
 *
 * Not here yet: SASL (SaslHandshake / SaslAuthenticate wait for the broker's authentication) and TLS.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { KafkaConnection } from './connection.js';
import { buildApiTable } from './api-list.js';
import { ClassicGroups } from './groups/classic-groups.js';
import { advertisedHost, singleNodeView, type KafkaClusterView } from './cluster-view.js';
import type { KafkaServices } from './services.js';
import { LOCAL_BROKER_ID } from '../topics/topic-manager.js';

export interface KafkaListenerOptions {
  /** HOST:PORT to listen on (port 0: any free port) */
  listen: string;
  /** largest request frame accepted (a larger one closes the connection) */
  maxFrameBytes: number;
  clusterId: string;
  /** the cluster view; default: this broker alone (single node) */
  cluster?: (self: { nodeId: number; host: string; port: number }) => KafkaClusterView;
}

export interface RunningKafkaListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new Error(`kafkaListener must be HOST:PORT (e.g. 127.0.0.1:9092), got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2] ?? '', port };
}

export async function startKafkaListener(services: Omit<KafkaServices, 'cluster'>, options: KafkaListenerOptions): Promise<RunningKafkaListener> {
  const { host, port } = parseHostPort(options.listen);
  const server: Server = createServer();
  const connections = new Set<KafkaConnection>();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const self = { nodeId: LOCAL_BROKER_ID, host: advertisedHost(host), port: boundPort };
  const cluster = options.cluster ? options.cluster(self) : singleNodeView(services.topics, self, options.clusterId);
  const full: KafkaServices = { ...services, cluster };
  const classic = new ClassicGroups(services.clock, services.initialRebalanceDelayMs);
  services.groups.setOtherProtocol((group) => classic.claims(group));
  const apis = buildApiTable(full, classic);
  const logger = services.logger;
  server.on('connection', (socket: Socket) => {
    const connection = new KafkaConnection(socket, apis, options.maxFrameBytes, logger, () => connections.delete(connection));
    connections.add(connection);
  });
  server.on('error', (err) => logger.error({ err }, 'kafka listener error'));
  logger.info({ kafkaListener: `${self.host}:${boundPort}` }, 'kafka protocol listener started');
  return {
    host: self.host,
    port: boundPort,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      classic.close();
      for (const c of connections) c.close();
      await closed;
    },
  };
}
