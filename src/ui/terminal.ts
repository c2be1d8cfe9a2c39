/**
 * The guest's serial console on an xterm.js terminal: guest bytes are written as they arrive
 * (UTF-8, the guest's own CR/LF), keystrokes and pastes go to the guest, the terminal fills its
 * container and follows its size, and copy/paste work with the usual terminal keys:
 *
 *   Ctrl+Shift+C / Ctrl+Insert   copy the selection      (plain Ctrl+C is the guest's ^C)
 *   Ctrl+Shift+V / Shift+Insert  paste from the clipboard (the browser's own paste works too)
 *
 * Fitting: the cell size is read from the rendered screen (`.xterm-screen` size / cols, rows),
 * so no private xterm API is used; rows and columns are the whole cells that fit.
 *
 * Not supported: telling the guest about the size (a UART has no TIOCSWINSZ; run `stty rows R
 * cols C` in the guest), mouse reporting, scrollback search.
 */
import { Terminal } from '@xterm/xterm';

export interface ConsoleViewOptions {
  fontSize?: number;
  /** Smallest size the terminal shrinks to. */
  minCols?: number;
  minRows?: number;
}

/** Where console input goes and output comes from (a Vm fits). */
export interface ConsoleTarget {
  write(input: string | Uint8Array): void;
  onSerial(listener: (data: Uint8Array) => void): () => void;
}

const ANSI_RESET = '\x1b[0m';
const STYLE = { info: '\x1b[2m', error: '\x1b[31m' } as const;

export class ConsoleView {
  readonly term: Terminal;
  private readonly observer: ResizeObserver | undefined;
  private detach: (() => void) | undefined;
  private fitQueued = false;
  private readonly minCols: number;
  private readonly minRows: number;

  constructor(private readonly container: HTMLElement, options: ConsoleViewOptions = {}) {
    this.minCols = options.minCols ?? 20;
    this.minRows = options.minRows ?? 4;
    this.term = new Terminal({
      cursorBlink: true,
      fontSize: options.fontSize ?? 14,
      // At line height 1 the next row's background clips underscores in common monospace fonts.
      lineHeight: 1.2,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      scrollback: 5000,
      allowProposedApi: false,
    });
    this.term.open(container);
    this.term.attachCustomKeyEventHandler((e) => this.onKey(e));
    if (typeof ResizeObserver === 'function') {
      this.observer = new ResizeObserver(() => this.queueFit());
      this.observer.observe(container);
    }
    this.fit();
  }

  /** Copy/paste keys; returns false for the keys it handled (xterm then ignores them). */
  private onKey(e: KeyboardEvent): boolean {
    if (e.type !== 'keydown') return true;
    const copy = (e.ctrlKey && e.shiftKey && e.code === 'KeyC') || (e.ctrlKey && !e.shiftKey && e.code === 'Insert');
    const paste = (e.ctrlKey && e.shiftKey && e.code === 'KeyV') || (e.shiftKey && !e.ctrlKey && e.code === 'Insert');
    if (copy) {
      const text = this.term.getSelection();
      if (text) navigator.clipboard?.writeText(text).catch(() => {});
      e.preventDefault();
      return false;
    }
    if (paste) {
      navigator.clipboard
        ?.readText()
        .then((text) => this.term.paste(text))
        .catch(() => this.message('paste: the browser did not allow reading the clipboard (use its own paste)', 'error'));
      e.preventDefault();
      return false;
    }
    return true;
  }

  private queueFit(): void {
    if (this.fitQueued) return;
    this.fitQueued = true;
    requestAnimationFrame(() => {
      this.fitQueued = false;
      this.fit();
    });
  }

  /** Resizes the terminal to the whole cells that fit its container. */
  fit(): void {
    const screen = this.container.querySelector<HTMLElement>('.xterm-screen');
    if (!screen || screen.offsetWidth === 0 || screen.offsetHeight === 0) return; // hidden: nothing to measure
    const cellWidth = screen.offsetWidth / this.term.cols;
    const cellHeight = screen.offsetHeight / this.term.rows;
    const style = getComputedStyle(this.container);
    const width = this.container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 14; // 14: scrollbar
    const height = this.container.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const cols = Math.max(this.minCols, Math.floor(width / cellWidth));
    const rows = Math.max(this.minRows, Math.floor(height / cellHeight));
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
  }

  /** Connects the terminal to a VM's console (replacing an earlier one). */
  attach(target: ConsoleTarget): void {
    this.detach?.();
    const offSerial = target.onSerial((data) => this.term.write(data));
    const onData = this.term.onData((text) => target.write(text));
    const onBinary = this.term.onBinary((text) => target.write(Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)));
    this.detach = () => {
      offSerial();
      onData.dispose();
      onBinary.dispose();
      this.detach = undefined;
    };
  }

  /** A line from the page itself (not the guest), dimmed or red, on a fresh line. */
  message(text: string, kind: keyof typeof STYLE = 'info'): void {
    const fresh = this.term.buffer.active.cursorX === 0 ? '' : '\r\n';
    this.term.write(`${fresh}${STYLE[kind]}${text.replace(/\n/g, '\r\n')}${ANSI_RESET}\r\n`);
  }

  focus(): void {
    this.term.focus();
  }

  dispose(): void {
    this.detach?.();
    this.observer?.disconnect();
    this.term.dispose();
  }
}
