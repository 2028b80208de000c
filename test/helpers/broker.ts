/**
 * Starts an in-process broker on a temp data dir, for app.inject() tests. Consumer groups assign at once
 * (groupInitialRebalanceDelayMs 0) unless a test sets the delay.
 */
import { pino, type Logger } from 'pino';
import type { Clock } from '../../src/log/clock.js';
import type { FileIO } from '../../src/log/file-io.js';
import { loadBrokerConfig, type BrokerConfig } from '../../src/server/broker-config.js';
import { startBroker, type RunningBroker } from '../../src/server/broker.js';

export async function startTestBroker(
  dataDir: string,
  options: { overrides?: Partial<BrokerConfig>; io?: FileIO; clock?: Clock; listen?: boolean; logger?: Logger } = {},
): Promise<RunningBroker> {
  const config = loadBrokerConfig({ overrides: { dataDir, port: 0, logLevel: 'silent', groupInitialRebalanceDelayMs: 0, ...options.overrides } });
  return startBroker(config, {
    logger: options.logger ?? pino({ level: config.logLevel }),
    listen: options.listen ?? false,
    ...(options.io ? { io: options.io } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
