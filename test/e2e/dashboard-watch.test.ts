/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { Browser, Page } from 'puppeteer-core';
import { ApiClient } from '#local/api-client.ts';
import { seedScenario } from '#test/fixtures/seed.ts';
import { chromiumPath, launchChromium, startDashboard, type Dashboard } from './browser.ts';

/*
 * The dashboard of a serve that watches every second. A file of its own: a local runtime's
 * handlers read their tables from the process's environment, so one runtime per process, as
 * serve has (dashboard.test.ts's runtime does not watch).
 */

const available = (() => {
  try {
    chromiumPath();
    return true;
  } catch {
    // dashboard.test.ts fails the run with what to do when Chromium is missing.
    return false;
  }
})();

vi.setConfig({ testTimeout: 120_000 });

describe.skipIf(process.env.RECOVERSEG_SKIP_BROWSER === '1' || !available)(
  "the dashboard shows serve's watcher",
  () => {
    let dashboard: Dashboard;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      dashboard = await startDashboard(
        inject('dynamodbEndpoint'),
        'dashboard-watch',
        {},
        {
          seconds: 1,
        },
      );
      browser = await launchChromium();
      page = await browser.newPage();
      page.setDefaultTimeout(60_000);
    });

    afterAll(async () => {
      await browser?.close();
      await dashboard?.stop();
    });

    it('its last look, and since when the cluster is not whole', async () => {
      const api = new ApiClient(dashboard.url);
      await api.request('POST', '/clusters', {
        clusterId: 'watched',
        segments: seedScenario.segments,
        simulation: { timeScale: 0 },
      });
      await page.goto(`${dashboard.url}/#cluster=watched`, { waitUntil: 'load' });
      // Looks that find nothing new write nothing: the page hears of them on the live stream.
      await page.waitForSelector('#watch[data-state=whole]');
      expect(await page.$eval('#watch', (node) => (node as HTMLElement).innerText)).toMatch(
        /^last look \d{4}-\d\d-\d\d [\d:.]+ UTC · whole$/,
      );

      await api.request('POST', '/clusters/watched/faults', { host: 'segment-2' });
      await page.waitForSelector('#watch[data-state=broken]');
      // The first fault a look recorded ends the cluster's whole time: the page says when.
      const { events } = (await api.request('GET', '/clusters/watched/events', undefined, {
        after: '0',
      })) as { events: { type: string; at: string }[] };
      const brokenAt = events.find((e) => e.type === 'SegmentMarkedDown')!.at;
      await page.waitForFunction(
        (at: string) => document.getElementById('watch')!.innerText.endsWith(`· last whole ${at}`),
        {},
        brokenAt.replace('T', ' ').replace(/Z$/, ' UTC'),
      );
    });
  },
);
