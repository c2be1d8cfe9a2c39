/**
 * A helper for Playwright tests (ours and yours): attach to a `<virtlite-vm>` element on a page,
 * wait for its guest to boot, and run shell commands with their exit status.
 *
 *   import { bootVm } from 'virtlite/src/testing/playwright.ts';
 *   test('the guest has a shell', async ({ page }) => {
 *     const vm = await bootVm(page, { url: '/' });
 *     expect(await vm.exec('uname -m')).toEqual({ stdout: 'x86_64\n', exitCode: 0 });
 *   });
 *
 * It drives the element's own API (`element.vm`, src/ui/element.ts) inside the page with
 * `locator.evaluate`, so it works on any page that embeds the element: virtlite's page, the
 * embed example, or a documentation page of yours.
 *
 * Not supported: pages that use createVM() without the element (expose the Vm on `window` and
 * call its `exec` with page.evaluate instead); binary console input.
 */
import type { Locator, Page } from '@playwright/test';
import type { ExecResult } from '../api/vm.ts';
import type { VirtliteVmElement } from '../ui/element.ts';

export interface BootVmOptions {
  /** Page to open first (default: stay on the current page). */
  url?: string;
  /** The element (default: the first `virtlite-vm`). */
  selector?: string;
  /** How long the boot may take (default 240 s: an interpreter on a slow CI machine). */
  timeoutMs?: number;
  /** Text that says the shell is ready (default: the element's boot marker). */
  marker?: string;
}

export interface PlaywrightVm {
  readonly element: Locator;
  /** Runs a shell command in the guest: what it printed (CR removed) and its exit status. */
  exec(command: string, options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Waits until the console output contains `text` (searching from `from`); returns the index after it. */
  waitFor(text: string, options?: { timeoutMs?: number; from?: number }): Promise<number>;
  /** Everything the guest printed so far. */
  output(): Promise<string>;
  /** Types text at the guest's console (no newline added). */
  type(text: string): Promise<void>;
}

/** Waits for the element's VM to boot and returns commands to drive it. */
export async function bootVm(page: Page, options: BootVmOptions = {}): Promise<PlaywrightVm> {
  const timeoutMs = options.timeoutMs ?? 240_000;
  if (options.url !== undefined) await page.goto(options.url);
  const element = page.locator(options.selector ?? 'virtlite-vm').first();
  // The element starts its VM when connected (autostart) or when the page's script says so.
  await element.evaluate(async (el: Element, timeout: number) => {
    const vmElement = el as VirtliteVmElement;
    await customElements.whenDefined(el.localName);
    const until = Date.now() + timeout;
    while (!vmElement.vm) {
      if (Date.now() > until) throw new Error('the element never started a VM');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, timeoutMs);
  const waitFor = (text: string, opts: { timeoutMs?: number; from?: number } = {}) =>
    element.evaluate(
      (el: Element, [t, o]: [string, { timeoutMs?: number; from?: number }]) => (el as VirtliteVmElement).waitFor(t, o),
      [text, { timeoutMs: opts.timeoutMs ?? timeoutMs, from: opts.from }] as [string, { timeoutMs?: number; from?: number }],
    );
  if (options.marker !== undefined) {
    await waitFor(options.marker);
  } else {
    await element.evaluate(async (el: Element, timeout: number) => {
      const vm = (el as VirtliteVmElement).vm!;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the guest did not boot within ${timeout} ms; console tail:\n${vm.output.slice(-2000)}`)), timeout);
      });
      try {
        await Promise.race([vm.booted, late]);
      } finally {
        clearTimeout(timer);
      }
    }, timeoutMs);
  }
  return {
    element,
    waitFor,
    exec: (command, opts = {}) =>
      element.evaluate(
        (el: Element, [c, t]: [string, number]) => (el as VirtliteVmElement).exec(c, { timeoutMs: t }),
        [command, opts.timeoutMs ?? 60_000] as [string, number],
      ),
    output: () => element.evaluate((el: Element) => (el as VirtliteVmElement).vm?.output ?? ''),
    type: (text) => element.evaluate((el: Element, t: string) => (el as VirtliteVmElement).vm!.write(t), text),
  };
}
