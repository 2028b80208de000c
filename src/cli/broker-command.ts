/**
 * What every command that talks to a broker shares: `--broker URL[,URL...]` (env SLUICE_BROKER, default
 * http://127.0.0.1:8080), `--timeout MS` (how long to keep retrying a broker that is unreachable or busy), and
 * an Admin from sluice/client that is closed when the command ends. The CLI has no HTTP code of its own.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Admin } from '../client/admin.js';
import { isBrokerError } from '../client/errors.js';
import { brokerUrlText, parseBrokerList } from '../client/broker-address.js';
import type { RetryEvent } from '../client/events.js';
import { CliFailure, EXIT_USAGE } from './errors.js';
import { connectionOptions, type ConnectionFlags } from './connection.js';
import type { CliIO } from './program.js';

export const DEFAULT_BROKER = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface BrokerFlags extends ConnectionFlags {
  broker: string;
  timeout: number;
}

/** The client options for --token, --ca, --client-cert and --client-key. */
export function brokerConnection(flags: BrokerFlags) {
  return connectionOptions(flags);
}

/** Adds --broker and --timeout to a command. */
export function withBrokerOptions(command: Command): Command {
  return command
    .addOption(new Option('--broker <host:port>', 'broker to talk to: host:port or an http(s) URL; a cluster\'s brokers comma separated').env('SLUICE_BROKER').default(DEFAULT_BROKER))
    .addOption(new Option('--token <token>', 'bearer token for a broker with authentication on').env('SLUICE_TOKEN'))
    .addOption(new Option('--ca <file>', 'PEM CA certificate to trust for an https:// broker').env('SLUICE_CA'))
    .addOption(new Option('--client-cert <file>', 'PEM client certificate (mutual TLS)').env('SLUICE_CLIENT_CERT'))
    .addOption(new Option('--client-key <file>', 'PEM key of --client-cert').env('SLUICE_CLIENT_KEY'))
    .addOption(
      new Option('--timeout <ms>', 'give up on an unreachable or unavailable broker after this long').default(DEFAULT_TIMEOUT_MS).argParser(integerArg(0)),
    );
}

/**
 * The brokers of --broker (comma-separated; each host:port, as kcat and rpk take it, or an http(s) URL),
 * checked before anything is sent, so a typo is a usage error (exit 2) rather than a network one.
 */
export function brokerUrls(flags: BrokerFlags): string[] {
  try {
    return parseBrokerList(flags.broker, '--broker').map(brokerUrlText);
  } catch (err) {
    throw new CliFailure((err as Error).message, EXIT_USAGE);
  }
}

/** The brokers of --broker as URLs (the client bootstraps from any of them and routes by partition leader). */
export function brokerUrl(flags: BrokerFlags): string[] {
  return brokerUrls(flags);
}

/**
 * Says on stderr that the broker does not answer and that the command keeps trying, and until when: at the
 * first retry, then at most every `everyMs`, so a wrong --broker is not a silent wait of the whole --timeout
 * (`timeoutMs` null: retrying until stopped, as `consume --follow` does).
 */
export function retryReporter(io: Pick<CliIO, 'stderr'>, broker: string | readonly string[], timeoutMs: number | null, everyMs = 2_000): (event: RetryEvent) => void {
  const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
  let lastSaid = 0;
  return (event) => {
    const now = Date.now();
    if (lastSaid !== 0 && now - lastSaid < everyMs) return;
    lastSaid = now;
    const until = deadline === null ? 'until Ctrl-C' : `giving up in ${Math.max(0, Math.ceil((deadline - now) / 1000))}s, see --timeout`;
    io.stderr(`sluice: ${event.error.code} from ${typeof broker === 'string' ? broker : broker.join(',')}: ${event.error.message}; retrying (attempt ${event.attempt + 1}, ${until})`);
  };
}

/** Runs `work` with an Admin for the broker and closes it afterwards; retries are reported on `io`'s stderr. */
export async function withAdmin<T>(flags: BrokerFlags, io: Pick<CliIO, 'stderr'> | null, work: (admin: Admin) => Promise<T>): Promise<T> {
  const broker = brokerUrl(flags);
  const admin = new Admin({ broker, retryTimeoutMs: flags.timeout, ...brokerConnection(flags), ...(io ? { onRetry: retryReporter(io, broker, flags.timeout) } : {}) });
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

/** A commander argument parser for integers in [min, max]; anything else is a usage error. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A commander argument parser for a point in time: ms since the epoch, or ISO 8601 text. */
export function timeArg(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError('expected ms since the epoch or an ISO 8601 time such as 2026-11-23T08:00:00Z');
  return ms;
}

/** Collects a repeatable option's values (`--config a=1 --config b=2`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** True when `err` is the broker's answer with this code (e.g. UNKNOWN_TOPIC). */
export function hasCode(err: unknown, code: string): boolean {
  return isBrokerError(err) && err.code === code;
}
