/**
 * `sluice serve`: runs the broker until SIGTERM or SIGINT, then shuts down gracefully (in-flight requests
 * finish, logs are flushed, the clean-shutdown marker is written) and exits 0.
 *
 * Log lines go to stdout through a LogDestination: a stdout that cannot take them (a pipe nobody reads, a
 * full disk) loses lines, counted in sluice_log_lines_dropped_total, and never stops the broker.
 */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { BROKER_SETTINGS, ConfigError, loadBrokerConfig, type BrokerConfig } from '../server/broker-config.js';
import { flagOf } from '../common/settings.js';
import { LogDestination } from '../server/log-destination.js';
import { CliFailure, EXIT_USAGE } from './errors.js';

/** How long shutdown waits for buffered log lines to reach stdout. */
const LOG_DRAIN_MS = 2_000;

async function createLogger(config: BrokerConfig): Promise<{ logger: Logger; destination: LogDestination }> {
  const { pino } = await import('pino');
  // On a terminal, lines are made readable in this thread (pino-pretty's formatter) rather than in a
  // transport's worker, so they pass through the same non-blocking destination.
  const format = process.stdout.isTTY === true ? (await import('pino-pretty')).prettyFactory({ colorize: true, translateTime: 'SYS:standard' }) : undefined;
  const destination = new LogDestination({ fd: 1, maxBufferedBytes: config.logBufferBytes, ...(format ? { format } : {}) });
  return { logger: pino({ level: config.logLevel, base: { pid: process.pid } }, destination), destination };
}

export function addServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .description('run the broker (single node: storage on --data-dir, HTTP on --host:--port)')
    .option('--config <file>', 'JSON config file (keys as in docs/operations.md)');
  for (const spec of BROKER_SETTINGS) {
    const choices = spec.choices ? ` (${spec.choices.join(', ')})` : '';
    serve.option(`${flagOf(spec.key)} <value>`, `${spec.doc}${choices} [default: ${spec.default === null ? 'none' : spec.default}]`);
  }
  serve.addHelpText(
    'after',
    `
Every setting is also an environment variable SLUICE_<UPPER_SNAKE> (e.g. SLUICE_DATA_DIR) and a key of the
JSON config file; precedence: flag > env > file > default.

Examples:
  $ sluice serve
  $ sluice serve --data-dir /var/lib/sluice --port 9092 --fsync interval
  $ SLUICE_PORT=8081 sluice serve --config sluice.json`,
  );
  serve.action(async (options: Record<string, string | undefined>) => {
    const { config: file, ...flags } = options;
    let config: BrokerConfig;
    try {
      config = loadBrokerConfig({ flags, env: process.env, ...(file ? { file } : {}) });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliFailure(err.message, EXIT_USAGE);
      throw err;
    }
    const { logger, destination } = await createLogger(config);
    let broker;
    try {
      // Loaded here, so the other commands start without the server's modules.
      const { startBroker } = await import('../server/broker.js');
      const extraListeners = config.kafkaListener === null ? [] : [(await import('./kafka-listener.js')).kafkaListenerHook(config, logger)];
      broker = await startBroker(config, { logger, droppedLogLines: () => destination.droppedLines, extraListeners });
    } catch (err) {
      logger.fatal({ err }, 'sluice failed to start');
      await destination.drain(LOG_DRAIN_MS);
      throw new CliFailure(`failed to start: ${(err as Error).message}`);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'signal received');
        broker.close().then(resolve, (err) => {
          logger.fatal({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        });
      };
      // SIGHUP rereads the auth file and the TLS files without a restart (docs/security.md).
      process.on('SIGHUP', () => broker.reload());
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    // A write still stuck in a blocking stdout would keep the process alive: then leave without it.
    if (!(await destination.drain(LOG_DRAIN_MS))) process.exit();
  });
}
