/**
 * Time for the virt machine: one clock that the TSC, the LAPIC timer, the HPET and kvmclock
 * all read, plus timers the devices arm on it (STYLE.md point 3: `Clock { now(); setTimer() }`).
 *
 * Guest time is a number of nanoseconds since the machine was created. A double holds integer
 * nanoseconds exactly for 104 days of uptime, enough for a browser tab.
 *
 * Three clocks share the timer queue:
 * - `HostClock` (default): guest time follows the host's monotonic clock, strictly increasing
 *   between reads (two reads never return the same value, as the TSC guarantees on hardware).
 * - `DeterministicClock`: guest time follows the instruction count (a fixed number of
 *   nanoseconds per instruction), so runs are reproducible. When the guest idles (HLT) the
 *   machine jumps time forward to the next deadline instead of sleeping.
 * - `FakeClock` (tests): time moves only when the test says so.
 *
 * Timers fire from `runDue()`, which the machine calls between CPU slices; they never fire in
 * the middle of an instruction. A device therefore reads a timer's state from the clock's
 * `now()` (a counter is computed from time, not incremented by ticks).
 */

/** A one-shot timer; re-arm it from its callback for periodic behaviour. */
export interface Timer {
  /** Fires the callback once when guest time reaches `deadline` (ns); replaces any earlier arming. */
  arm(deadline: number): void;
  cancel(): void;
  /** The armed deadline, or undefined. */
  readonly deadline: number | undefined;
}

export interface Clock {
  /** Guest time in ns since the machine started. */
  now(): number;
  /** Unix time in ns at guest time 0 (the guest's wall clock: kvmclock, `date`). */
  readonly wallClockAtZero: number;
  /** A new, unarmed timer that calls `fire(now)` when due. */
  timer(fire: (now: number) => void): Timer;
}

class QueuedTimer implements Timer {
  deadline: number | undefined = undefined;
  constructor(private readonly queue: TimerQueue, readonly fire: (now: number) => void) {}
  arm(deadline: number): void {
    if (this.deadline === undefined) this.queue.armed.add(this);
    this.deadline = deadline;
  }
  cancel(): void {
    this.deadline = undefined;
    this.queue.armed.delete(this);
  }
}

/** Timers and their deadlines; the clocks below add a time source. */
export abstract class TimerQueue implements Clock {
  /** @internal Armed timers (a machine has a handful: a Set is simpler than a heap). */
  readonly armed = new Set<QueuedTimer>();
  abstract now(): number;
  abstract readonly wallClockAtZero: number;

  timer(fire: (now: number) => void): Timer {
    return new QueuedTimer(this, fire);
  }

  /** The earliest armed deadline, or Infinity when no timer is armed. */
  nextDeadline(): number {
    let next = Infinity;
    for (const t of this.armed) if (t.deadline! < next) next = t.deadline!;
    return next;
  }

  /**
   * Fires every timer whose deadline has passed, earliest first. A callback may re-arm its
   * timer; a re-armed timer that is already due again fires again (up to a bound, so that a
   * guest programming a 1 ns period cannot hang the host).
   */
  runDue(maxFires = 1000): number {
    let fired = 0;
    const now = this.now();
    while (fired < maxFires) {
      let first: QueuedTimer | undefined;
      for (const t of this.armed) if (t.deadline! <= now && (!first || t.deadline! < first.deadline!)) first = t;
      if (!first) break;
      first.cancel();
      first.fire(now);
      fired++;
    }
    return fired;
  }
}

const now = (): number => performance.now() * 1e6;

/** Guest time follows the host's monotonic clock. */
export class HostClock extends TimerQueue {
  private readonly start = now();
  private last = -1;
  readonly wallClockAtZero = Date.now() * 1e6;

  now(): number {
    // performance.now() is coarse in browsers (5 µs to 100 µs): keep reads strictly increasing.
    let t = Math.floor(now() - this.start);
    if (t <= this.last) t = this.last + 1;
    return (this.last = t);
  }
}

/** Guest time follows the instruction count: reproducible runs. */
export class DeterministicClock extends TimerQueue {
  private skipped = 0;
  private last = -1;

  /**
   * @param instructions the CPU's retired-instruction count
   * @param nsPerInstruction guest time per instruction (default 1 ns: a 1000 MIPS guest)
   * @param wallClockAtZero fixed Unix time (ns) at boot, so that `date` is reproducible too
   */
  constructor(
    private readonly instructions: () => number,
    private readonly nsPerInstruction = 1,
    readonly wallClockAtZero = Date.UTC(2026, 0, 1) * 1e6,
  ) {
    super();
  }

  now(): number {
    let t = this.raw();
    if (t <= this.last) t = this.last + 1;
    return (this.last = t);
  }

  private raw(): number {
    return this.instructions() * this.nsPerInstruction + this.skipped;
  }

  /** The guest is idle: move time forward to `deadline` (no host time passes). */
  skipTo(deadline: number): void {
    const t = this.raw();
    if (deadline > t) this.skipped += deadline - t;
  }
}

/** Test clock: time moves only by `advance()` / `set()`, and reads do not move it. */
export class FakeClock extends TimerQueue {
  private t = 0;
  wallClockAtZero = Date.UTC(2026, 0, 1) * 1e6;
  now(): number {
    return this.t;
  }
  /** Sets the time and fires what became due. */
  set(t: number): void {
    this.t = t;
    this.runDue();
  }
  advance(ns: number): void {
    this.set(this.t + ns);
  }
}
