/**
 * Helpers for the Kafka listener tests: kcat installed when missing (Debian package, never skipped), a real
 * `sluice serve --kafka-listener` process, and a raw socket client speaking Kafka framing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { BrokerProcess, freePort } from './broker-process.js';

export function ensureKcat(): void {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('apt-get', ['install', '-y', 'kcat'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      execFileSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
      execFileSync('apt-get', ['install', '-y', 'kcat'], { stdio: 'ignore', timeout: 300_000 });
    }
  }
}

export interface KafkaBroker {
  broker: BrokerProcess;
  kafkaPort: number;
  bootstrap: string;
}

export async function startKafkaBroker(dataDir: string, extraArgs: string[] = []): Promise<KafkaBroker> {
  const [port, kafkaPort] = [await freePort(), await freePort()];
  const broker = new BrokerProcess(dataDir, port, ['--kafka-listener', `127.0.0.1:${kafkaPort}`, '--fsync', 'never', ...extraArgs]);
  await broker.start();
  return { broker, kafkaPort, bootstrap: `127.0.0.1:${kafkaPort}` };
}

/** Runs kcat with `input` on stdin; resolves with stdout (rejects on a non-zero exit or after 60 s). */
export function kcat(args: string[], input = ''): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr });
      else reject(new Error(`kcat ${args.join(' ')} exited ${code ?? signal}: ${stderr}`));
    });
  });
}

/** A raw Kafka connection: frames out, response frames (without the size prefix) in. */
export class RawKafkaClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        this.frames.push(this.buffered.subarray(4, 4 + this.buffered.readInt32BE(0)));
        this.buffered = this.buffered.subarray(4 + this.buffered.readInt32BE(0));
      }
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends bytes as they are (a frame must carry its own size prefix). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a request frame (size prefix added). */
  send(frame: Buffer): void {
    const size = Buffer.alloc(4);
    size.writeInt32BE(frame.length);
    this.socket.write(Buffer.concat([size, frame]));
  }

  /** The next response frame, or null once the broker closed the connection. */
  async next(timeoutMs = 10_000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.closed) {
      if (Date.now() > deadline) throw new Error('no response');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
      this.waiting = null;
    }
    return this.frames.shift() ?? null;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** An ApiVersions v0 request frame (header v1) with this correlation id. */
export function apiVersionsRequest(correlationId: number, version = 0): Buffer {
  const frame = Buffer.alloc(10);
  frame.writeInt16BE(18, 0);
  frame.writeInt16BE(version, 2);
  frame.writeInt32BE(correlationId, 4);
  frame.writeInt16BE(-1, 8);
  return frame;
}
