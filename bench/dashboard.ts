/**
 * Page load time and update latency of the dashboard against a running `recoverseg serve`:
 *
 *   npx recoverseg serve --port 3417 &
 *   npx tsx bench/dashboard.ts http://127.0.0.1:3417
 *
 * Load: navigation start to the first drawn grid (the page's `recoverseg:rendered` mark), median
 * of several loads. Update: from an event's append time (`at`, written by the same machine's
 * clock) to the first drawing of a seq at least that high, over every event of one seed incident.
 */
import { readFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { ApiClient } from '#local/api-client.ts';
import { chromiumPath } from '#test/e2e/browser.ts';

const endpoint = process.argv[2] ?? 'http://127.0.0.1:3000';
const LOADS = 7;

const seed = JSON.parse(
  readFileSync(new URL('../scenarios/seed-host-failure.json', import.meta.url), 'utf8'),
) as { segments: unknown[] };

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const ms = (n: number) => `${n.toFixed(0)} ms`;

const api = new ApiClient(endpoint);
const clusterId = `bench-${Date.now().toString(36)}`;
await api.request('POST', '/clusters', {
  clusterId,
  segments: seed.segments,
  simulation: { timeScale: 0 },
});

// The cluster list is the projection's: wait until the projector has seen the registration.
for (;;) {
  const { clusters } = (await api.request('GET', '/clusters')) as {
    clusters: { clusterId: string }[];
  };
  if (clusters.some((c) => c.clusterId === clusterId)) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const browser = await puppeteer.launch({
  executablePath: chromiumPath(),
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1000 });
  const rendered = () =>
    page.evaluate(() =>
      performance.getEntriesByName('recoverseg:rendered').map((m) => ({
        at: performance.timeOrigin + m.startTime,
        sinceStart: m.startTime,
        seq: (m as PerformanceMark).detail.seq as number,
      })),
    );

  const loads: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    await page.goto(`${endpoint}/?load=${i}#cluster=${clusterId}`, { waitUntil: 'load' });
    await page.waitForFunction(
      () => performance.getEntriesByName('recoverseg:rendered').length > 0,
      {
        timeout: 10_000,
      },
    );
    loads.push((await rendered())[0]!.sinceStart);
  }

  await api.request('POST', `/clusters/${clusterId}/faults`, { host: 'segment-2' });
  const incidentId = 'bench-1';
  await api.request('POST', `/clusters/${clusterId}/recoveries`, {
    incidentId,
    waits: { pollSeconds: 1 },
  });
  // The end is the incident's last event in the log (the read routes follow the projection).
  let events: { seq: number; at: string; type: string }[] = [];
  while (!['RecoveryCompleted', 'RecoveryFailed'].includes(events.at(-1)?.type ?? '')) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    ({ events } = (await api.request('GET', `/clusters/${clusterId}/events`, undefined, {
      limit: '1000',
    })) as { events: typeof events });
  }
  const head = events.at(-1)!.seq;
  await page.waitForFunction(
    (seq: number) =>
      performance
        .getEntriesByName('recoverseg:rendered')
        .some((m) => (m as PerformanceMark).detail.seq >= seq),
    { timeout: 10_000 },
    head,
  );
  const marks = await rendered();
  const incident = events.filter((e) => e.seq > 1);
  const latencies = incident.map((e) => {
    const shown = marks.find((m) => m.seq >= e.seq);
    return shown ? shown.at - Date.parse(e.at) : Number.NaN;
  });
  const seen = latencies.filter((l) => Number.isFinite(l));
  console.log(`dashboard against ${endpoint}, cluster ${clusterId} (seed layout, 10 segments)`);
  console.log(
    `page load to first grid: median ${ms(quantile(loads, 0.5))}, max ${ms(Math.max(...loads))} (${LOADS} loads)`,
  );
  console.log(
    `update latency, event appended -> drawn: median ${ms(quantile(seen, 0.5))}, p95 ${ms(quantile(seen, 0.95))}, max ${ms(Math.max(...seen))} over ${seen.length} events${seen.length < incident.length ? `; ${incident.length - seen.length} never drawn` : ''}`,
  );
} finally {
  await browser.close();
}
