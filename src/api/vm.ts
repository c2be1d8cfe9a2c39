/**
 * The VM as a program drives it: a serial console stream, `waitFor(text)`, `exec(command)` →
 * `{ stdout, exitCode }` and events (booted, poweroff, error). It knows nothing of where the
 * machine runs: a `VmTransport` carries console bytes and lifecycle events, either from a
 * machine in this thread (Node: ./local.ts) or from a Web Worker (the page).
 *
 * `exec` types a command line at the guest's shell and frames its output with begin and end
 * tags. The tags are split by quotes in the typed line, so the terminal's echo of the line can
 * never match them; the exit status comes from `$?`. Commands run one at a time, in order.
 */

/** What a VM backend provides. */
export interface VmTransport {
  /** Sends bytes to the guest's console. */
  write(bytes: Uint8Array): void;
  /** Subscribes to console output and lifecycle events. */
  subscribe(listener: (e: TransportEvent) => void): void;
  /** Stops the machine for good. */
  stop(): void;
}

export type TransportEvent =
  | { readonly type: 'serial'; readonly data: Uint8Array }
  | { readonly type: 'poweroff' }
  | { readonly type: 'error'; readonly message: string };

export type VmEvent =
  | { readonly type: 'booted'; readonly bootMs: number }
  | { readonly type: 'poweroff' }
  | { readonly type: 'error'; readonly message: string };

export interface ExecResult {
  /** What the command printed (stdout and stderr, as the terminal shows them), CR removed. */
  readonly stdout: string;
  readonly exitCode: number;
}

export class VmError extends Error {
  override name = 'VmError';
}

/** The default guest's boot marker (guest/init). */
export const DEFAULT_BOOT_MARKER = 'virtlite: boot complete, shell ready';

export interface VmOptions {
  /** Text the guest prints when its shell is ready (default: the default guest's marker). */
  bootMarker?: string;
  /** The shell prompt's last characters, waited for before typing a command (default '# '). */
  prompt?: string;
}

export class Vm {
  /** Everything the guest printed so far, as text. */
  private log = '';
  private readonly decoder = new TextDecoder();
  private readonly listeners = new Set<(e: VmEvent) => void>();
  private readonly serialListeners = new Set<(data: Uint8Array) => void>();
  private readonly waiters = new Set<() => void>();
  private ended: VmEvent | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private execCount = 0;
  /** Log position after the last exec (the next prompt is searched from here). */
  private execPos = 0;
  private readonly started = performance.now();
  private readonly encoder = new TextEncoder();
  private readonly bootMarker: string;
  private readonly prompt: string;
  /** Resolves when the boot marker appears. */
  readonly booted: Promise<void>;

  constructor(private readonly transport: VmTransport, options: VmOptions = {}) {
    this.bootMarker = options.bootMarker ?? DEFAULT_BOOT_MARKER;
    this.prompt = options.prompt ?? '# ';
    transport.subscribe((e) => this.onTransport(e));
    this.booted = this.waitFor(this.bootMarker, { timeoutMs: Infinity }).then(() => {
      this.emit({ type: 'booted', bootMs: performance.now() - this.started });
    });
    this.booted.catch(() => {}); // a VM that never boots reports that through waitFor/exec
  }

  private onTransport(e: TransportEvent): void {
    if (e.type === 'serial') {
      this.log += this.decoder.decode(e.data, { stream: true });
      for (const l of this.serialListeners) l(e.data);
    } else {
      this.ended = e;
      this.emit(e);
    }
    for (const w of [...this.waiters]) w();
  }

  private emit(e: VmEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: VmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to raw console output. */
  onSerial(listener: (data: Uint8Array) => void): () => void {
    this.serialListeners.add(listener);
    return () => this.serialListeners.delete(listener);
  }

  /** The console output so far. */
  get output(): string {
    return this.log;
  }

  /** Types text (or bytes) at the guest's console. */
  write(input: string | Uint8Array): void {
    this.transport.write(typeof input === 'string' ? this.encoder.encode(input) : input);
  }

  /**
   * Waits until the console output from position `from` (default 0) contains `pattern`.
   * Resolves with the index just past the match. Rejects on timeout (default 60 s), poweroff or
   * error.
   */
  waitFor(pattern: string | RegExp, options: { timeoutMs?: number; from?: number } = {}): Promise<number> {
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = () => {
        const tail = this.log.slice(from);
        let end = -1;
        if (typeof pattern === 'string') {
          const i = tail.indexOf(pattern);
          if (i >= 0) end = from + i + pattern.length;
        } else {
          const m = pattern.exec(tail);
          if (m) end = from + m.index + m[0].length;
        }
        if (end >= 0) {
          finish();
          resolve(end);
        } else if (this.ended) {
          finish();
          const why = this.ended.type === 'error' ? `the emulator failed: ${this.ended.message}` : 'the guest powered off';
          reject(new VmError(`waiting for ${String(pattern)}: ${why}`));
        }
      };
      const finish = () => {
        this.waiters.delete(check);
        if (timer !== undefined) clearTimeout(timer);
      };
      if (timeoutMs !== Infinity) {
        timer = setTimeout(() => {
          finish();
          reject(new VmError(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}\n--- console tail ---\n${this.log.slice(-2000)}`));
        }, timeoutMs);
      }
      this.waiters.add(check);
      check();
    });
  }

  /** Runs a shell command in the guest and returns its output and exit status. */
  exec(command: string, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const run = async (): Promise<ExecResult> => {
      const timeoutMs = options.timeoutMs ?? 60_000;
      await this.booted;
      const id = this.execCount++;
      const at = await this.waitFor(this.prompt, { from: this.execPos, timeoutMs });
      const begin = `__VL_BEGIN_${id}__`;
      const end = `__VL_END_${id}__ `;
      this.write(`echo "__VL_BEGIN_""${id}__"; ${command}; echo "__VL_END_""${id}__ $?"\n`);
      const outputStart = await this.waitFor('\n', { from: await this.waitFor(begin, { from: at, timeoutMs }), timeoutMs });
      const outputEnd = await this.waitFor(end, { from: outputStart, timeoutMs });
      const exitLine = await this.waitFor('\n', { from: outputEnd, timeoutMs });
      this.execPos = exitLine;
      const exitCode = Number.parseInt(this.log.slice(outputEnd, exitLine).trim(), 10);
      const stdout = this.log.slice(outputStart, outputEnd - end.length).replace(/\r/g, '');
      return { stdout, exitCode };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Powers the guest off with `poweroff` and waits for the machine to stop. */
  async poweroff(timeoutMs = 60_000): Promise<void> {
    if (this.ended?.type === 'poweroff') return;
    await this.booted;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VmError(`the guest did not power off within ${timeoutMs} ms`)), timeoutMs);
      const off = this.on((e) => {
        if (e.type === 'booted') return;
        clearTimeout(timer);
        off();
        if (e.type === 'poweroff') resolve();
        else reject(new VmError(`the emulator failed: ${e.message}`));
      });
    });
    this.write('poweroff\n');
    await done;
  }

  /** Stops the machine (no guest shutdown). */
  stop(): void {
    this.transport.stop();
  }
}
