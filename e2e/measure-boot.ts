/**
 * Boot time and MIPS of the default guest in Node and in Debian's chromium, measured in the
 * same run on the same machine, alternating (Node, browser, Node, browser, …) so that load
 * from other processes hits both alike. Not part of the test suite: it prints a table for
 * docs/PERFORMANCE.md and asserts nothing.
 *
 *   npx tsx e2e/measure-boot.ts [runs]      (builds the page, serves it on 127.0.0.1:4174)
 *
 * Boot time is machine time: from the moment the machine starts running to the boot marker
 * (Node: the Vm's `booted` event, created right after the machine; browser: the worker's
 * uptime when the page sees the marker, downloads excluded). MIPS = boot instructions / boot
 * time. The browser figure with downloads is the page's own `bootMs`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chromium } from '@playwright/test';
import { createVM } from '../src/api/node.ts';

const PORT = 4174;
const CHROMIUM = process.env.VIRTLITE_CHROMIUM ?? '/usr/bin/chromium';
const runs = Number(process.argv[2] ?? 3);

interface Sample {
  machineMs: number;
  instructions: number;
  pageMs?: number;
}

async function bootInNode(): Promise<Sample> {
  const local = createVM();
  const booted = new Promise<number>((resolve) => local.vm.on((e) => e.type === 'booted' && resolve(e.bootMs)));
  const machineMs = await booted;
  const instructions = local.machine.instructions;
  local.vm.stop();
  await local.finished;
  return { machineMs, instructions };
}

async function bootInBrowser(browser: import('@playwright/test').Browser): Promise<Sample> {
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${PORT}/`);
    return await page.locator('#vm').evaluate(
      (el) =>
        new Promise<Sample>((resolve) => {
          el.addEventListener('vm-booted', (e) => {
            const d = (e as CustomEvent<{ bootMs: number; machineMs: number; instructions: number }>).detail;
            resolve({ machineMs: d.machineMs, instructions: d.instructions, pageMs: d.bootMs });
          });
        }),
    );
  } finally {
    await page.close();
  }
}

function row(what: string, s: Sample): string {
  const mips = s.instructions / (s.machineMs * 1000);
  const page = s.pageMs === undefined ? '' : ` (${(s.pageMs / 1000).toFixed(2)} s from page load)`;
  return `| ${what} | ${(s.machineMs / 1000).toFixed(2)} s${page} | ${(s.instructions / 1e6).toFixed(1)} M | ${mips.toFixed(1)} |`;
}

async function main(): Promise<void> {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], { stdio: 'ignore', detached: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    for (let i = 0; i < 50; i++) {
      if (await fetch(`http://127.0.0.1:${PORT}/`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const lines = ['| where | boot to shell marker | instructions | MIPS |', '|---|---|---|---|'];
    for (let i = 0; i < runs; i++) {
      lines.push(row(`Node ${process.version}, run ${i + 1}`, await bootInNode()));
      lines.push(row(`chromium ${browser.version()}, run ${i + 1}`, await bootInBrowser(browser)));
    }
    console.log(lines.join('\n'));
  } finally {
    await browser.close();
    if (server.pid !== undefined) process.kill(-server.pid); // the preview server's process group
  }
}

await main();
