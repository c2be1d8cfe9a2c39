/**
 * Drives a Machine asynchronously: runs slices while the guest is busy, yields to the event
 * loop between them (so input, output and UI events get through), sleeps while the guest is
 * idle and wakes on input or at the guest's next timer deadline. The same driver runs the
 * machine in Node (CLI, createVM) and in the Web Worker.
 *
 * Events: `poweroff` (the guest turned the machine off), `error` (an emulator failure; the
 * runner stops), `stopped` (stop() was called). Stats: guest instructions, host run time and
 * the instruction rate of the last second.
 */
import type { Machine } from './machine.ts';

export type RunnerEvent =
  | { readonly type: 'poweroff' }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'stopped' };

export interface RunnerStats {
  /** Guest instructions since the machine was created. */
  readonly instructions: number;
  /** Host milliseconds since start(). */
  readonly uptimeMs: number;
  /** Guest instructions per second over the last measurement window (millions). */
  readonly mips: number;
  /** Whether the guest is idle (halted with nothing to do) right now. */
  readonly idle: boolean;
}

/** Lets pending I/O and timer events run: setImmediate in Node, a message round trip elsewhere. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

export class MachineRunner {
  private running = false;
  private paused = false;
  private wake: (() => void) | undefined;
  private started = 0;
  private idle = false;
  private windowStart = 0;
  private windowInstructions = 0;
  private lastMips = 0;
  private readonly listeners = new Set<(e: RunnerEvent) => void>();
  /** Host milliseconds of guest execution per slice before yielding. */
  sliceMs = 20;

  constructor(readonly machine: Machine) {
    // A frame arriving for a sleeping guest wakes the loop, as console input does.
    machine.onWake = () => this.poke();
  }

  on(listener: (e: RunnerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RunnerEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Queues input for the guest's console and wakes an idle guest. */
  sendInput(bytes: Uint8Array): void {
    this.machine.sendInput(bytes);
    this.poke();
  }

  /** Wakes the loop (new input, resume). */
  poke(): void {
    this.wake?.();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.poke();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops the loop for good (the machine keeps its state). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.poke();
  }

  stats(): RunnerStats {
    const now = performance.now();
    const instructions = this.machine.instructions;
    if (now - this.windowStart >= 1000) {
      this.lastMips = (instructions - this.windowInstructions) / ((now - this.windowStart) * 1000);
      this.windowStart = now;
      this.windowInstructions = instructions;
    }
    return { instructions, uptimeMs: this.started ? now - this.started : 0, mips: this.lastMips, idle: this.idle };
  }

  /** Runs until poweroff, an error or stop(). Resolves with the event that ended it. */
  async start(): Promise<RunnerEvent> {
    if (this.running) throw new Error('the machine is already running');
    this.running = true;
    this.started = performance.now();
    this.windowStart = this.started;
    this.windowInstructions = this.machine.instructions;
    let end: RunnerEvent;
    for (;;) {
      if (!this.running) {
        end = { type: 'stopped' };
        break;
      }
      if (this.paused) {
        await this.sleep(Infinity);
        continue;
      }
      const r = this.machine.run(this.sliceMs);
      if (r.kind === 'poweroff') {
        end = { type: 'poweroff' };
        break;
      }
      if (r.kind === 'error') {
        end = { type: 'error', message: r.message };
        break;
      }
      if (r.kind === 'idle') {
        this.idle = true;
        await this.sleep(r.wakeInMs);
        this.idle = false;
      } else {
        await yieldToEventLoop();
      }
    }
    this.running = false;
    this.emit(end);
    return end;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(done, Math.min(Math.max(0, ms), 2 ** 31 - 1));
      const self = this;
      function done(): void {
        if (timer !== undefined) clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
