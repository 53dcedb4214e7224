/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { workflowDefinition } from '#infra/state-machine.ts';
import { createDynamoClient } from '#store/clients.ts';
import { createIsolatedTables, freePort } from '#local/dynamodb-local.ts';
import { startHttpApi } from '#local/http-server.ts';
import { startLocalRuntime, type LocalRuntime } from '#local/runtime.ts';
import { LiveFeed } from '#local/web/live.ts';
import { localWatcher, type Watching } from '#local/cli-local.ts';
import type { TaskObserver } from '#local/workflow-runner.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** Where a browser can be: $CHROMIUM_PATH, then Debian's and other usual places. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

export class ChromiumMissing extends Error {
  override name = 'ChromiumMissing';
}

export const INSTALL_CHROMIUM =
  'install it (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium) or point CHROMIUM_PATH at a Chromium or Chrome binary; RECOVERSEG_SKIP_BROWSER=1 skips the browser tests';

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const wanted = env.CHROMIUM_PATH;
  if (wanted) {
    if (!existsSync(wanted))
      throw new ChromiumMissing(`CHROMIUM_PATH=${wanted} does not exist; ${INSTALL_CHROMIUM}`);
    return wanted;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (!found)
    throw new ChromiumMissing(
      `no Chromium found (looked at ${CANDIDATES.join(', ')}); ${INSTALL_CHROMIUM}`,
    );
  return found;
}

/** Headless Chromium from the system, never downloaded. Small: the machine has 2 cores. */
export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-background-networking',
      '--font-render-hinting=none',
    ],
  });
}

export interface Dashboard {
  runtime: LocalRuntime;
  server: Server;
  feed: LiveFeed;
  url: string;
  stop(): Promise<void>;
}

/** What `recoverseg serve` runs: the local runtime, its live feed and the HTTP API with the page. */
export async function startDashboard(
  endpoint: string,
  prefix: string,
  observer: TaskObserver = {},
  /** serve's watcher, over these clusters only (the other tests' clusters stay unwatched). */
  watching?: Watching & { clusters: string[] },
): Promise<Dashboard> {
  const tables = await createIsolatedTables(createDynamoClient(endpoint), prefix);
  const feed = new LiveFeed();
  const runtime = await startLocalRuntime({
    endpoint,
    tables,
    definition: workflowDefinition(),
    observer: {
      async onTaskSucceeded(task, payload, output) {
        await feed.onTaskSucceeded(task, payload, output);
        await observer.onTaskSucceeded?.(task, payload, output);
      },
      onTaskFailed: (task, payload, error) => observer.onTaskFailed?.(task, payload, error),
    },
  });
  feed.attach(runtime.steps.cluster);
  const port = await freePort();
  // serve's own watcher, when asked for: its looks are what the page shows of it.
  const watcher =
    watching &&
    localWatcher(
      runtime,
      watching,
      async () => watching.clusters,
      () => {},
    );
  const server = await startHttpApi(
    { ...runtime.api, ...(watcher ? { lastLook: (id: string) => watcher.lastLook(id) } : {}) },
    port,
    () => {},
    { live: feed },
  );
  watcher?.start();
  return {
    runtime,
    server,
    feed,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await watcher?.stop();
      await new Promise((resolve) => server.close(resolve));
      await runtime.stop();
    },
  };
}

/** The grid as rows of gp_segment_configuration, read from what the page shows. */
export function readGrid(page: Page): Promise<SegmentRow[]> {
  return page.$$eval('#grid [data-host]', (hosts) =>
    hosts.flatMap((host) => {
      const hostname = host.querySelector('[data-col=hostname]')?.textContent ?? '';
      return [...host.querySelectorAll('[data-dbid]')].map((cell) => {
        const text = (col: string) =>
          cell.querySelector(`[data-col=${col}] b`)?.textContent ?? `(no ${col})`;
        return {
          dbid: Number(text('dbid')),
          content: Number(text('content')),
          role: text('role'),
          preferred_role: text('preferred_role'),
          mode: text('mode'),
          status: text('status'),
          port: Number(text('port')),
          hostname,
          address: text('address'),
          datadir: text('datadir'),
        } as SegmentRow;
      });
    }),
  );
}

/**
 * Waits until the grid shows seq `seq`: live (or later), or as of that seq after time travel;
 * within the page's default timeout.
 */
export async function gridAt(page: Page, seq: number, mode: 'live' | 'history'): Promise<void> {
  await page.waitForFunction(
    (want: number, wantMode: string) => {
      const grid = document.getElementById('grid');
      const shown = Number(grid?.dataset.seq);
      return (
        grid?.dataset.mode === wantMode && (wantMode === 'live' ? shown >= want : shown === want)
      );
    },
    {},
    seq,
    mode,
  );
}
