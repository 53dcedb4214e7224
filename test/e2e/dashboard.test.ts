/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { ROUTES } from '#api/routes.ts';
import { renderConfigurationTable } from '#domain/render.ts';
import type { WorkflowTask } from '#infra/tasks.ts';
import { watchCluster } from '#app/watch.ts';
import { ApiClient } from '#local/api-client.ts';
import { phaseReached, type ScenarioPhase } from '#local/scenario.ts';
import type { TaskObserver } from '#local/workflow-runner.ts';
import { seedScenario, seedTables } from '#test/fixtures/seed.ts';
import {
  ChromiumMissing,
  chromiumPath,
  gridAt,
  launchChromium,
  readGrid,
  startDashboard,
  type Dashboard,
} from './browser.ts';

/** Screenshots of each phase; git-ignored, kept by CI as artifacts if it wants them. */
const SHOTS = fileURLToPath(new URL('../../test-output/dashboard/', import.meta.url));

// A missing browser fails the run with what to do, so CI (which installs it) never passes
// without having looked; a developer opts out explicitly.
const skip = process.env.RECOVERSEG_SKIP_BROWSER === '1';
if (!skip) {
  try {
    chromiumPath();
  } catch (error) {
    if (!(error instanceof ChromiumMissing)) throw error;
    describe('the dashboard in a real browser', () => {
      it('needs Chromium', () => {
        throw error;
      });
    });
  }
}

/**
 * Holds the workflow at each phase of the seed incident (after the Task that reached it, before
 * the state machine moves on) until the page has been checked: the live grid is compared
 * while the cluster really is in that state, not reconstructed afterwards.
 */
class PhaseGate {
  private readonly waiting = new Map<ScenarioPhase, (seq: number) => void>();
  private readonly release = new Map<ScenarioPhase, () => void>();
  private readonly seen = new Set<ScenarioPhase>();

  constructor(private readonly clusterId: string) {}

  reached(phase: ScenarioPhase): Promise<number> {
    return new Promise((resolve) => this.waiting.set(phase, resolve));
  }

  resume(phase: ScenarioPhase): void {
    this.release.get(phase)?.();
  }

  observer(dashboard: () => Dashboard) {
    return {
      onTaskSucceeded: async (task: WorkflowTask, payload: unknown, output: unknown) => {
        const phase = phaseReached(task, payload, output);
        const input = (payload as { input: { clusterId: string } }).input;
        if (!phase || input.clusterId !== this.clusterId || this.seen.has(phase)) return;
        const signal = this.waiting.get(phase);
        if (!signal) return;
        this.seen.add(phase);
        const { lastSeq } = await dashboard().runtime.stores.events.readHead(this.clusterId);
        await new Promise<void>((resume) => {
          this.release.set(phase, resume);
          signal(lastSeq);
        });
      },
    };
  }
}

// Each test waits on what the page shows, never on time; its timeout only bounds one that would
// never end. The seed test takes 5 s on an idle 2-core machine and 31 s at a load of 18.
vi.setConfig({ testTimeout: 120_000 });

describe.skipIf(skip || !chromiumAvailable())('the dashboard in a real browser', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  let api: ApiClient;
  const gate = new PhaseGate('seed');
  const rowsGate = new PhaseGate('rows');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dashboard = await startDashboard(
      inject('dynamodbEndpoint'),
      'dashboard',
      both(
        gate.observer(() => dashboard),
        rowsGate.observer(() => dashboard),
      ),
      // serve's watcher, on the one cluster of the test that shows it.
      { seconds: 1, pollSeconds: 0, clusters: ['watched'] },
    );
    api = new ApiClient(dashboard.url);
    browser = await launchChromium();
    page = await browser.newPage();
    // What the page is waited for (a selector, a function) within; each wait ends on its state.
    page.setDefaultTimeout(60_000);
    await page.setViewport({ width: 1440, height: 1000 });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
  });

  const shoot = (name: string) =>
    page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true }) as Promise<unknown>;
  const table = async () => renderConfigurationTable(await readGrid(page));
  const text = (selector: string) =>
    page.$eval(selector, (node) => (node as HTMLElement).innerText);
  /**
   * Clicks a timeline row as a person does: points at it first (the timeline holds still under
   * the pointer; pointing again if a live update moved it before the pointer got there), then
   * presses where the pointer is.
   */
  const clickRow = async (row: ElementHandle) => {
    while (!(await row.evaluate((node) => node.matches(':hover')))) await row.hover();
    await page.mouse.down();
    await page.mouse.up();
  };
  /** Picks a cluster just registered, once the picker lists it (from the projection). */
  const pick = async (clusterId: string) => {
    await dashboard.runtime.poller.drain();
    await page.waitForFunction(
      (id: string) =>
        [...document.querySelectorAll('#cluster option')].some((o) => o.textContent === id),
      {},
      clusterId,
    );
    await page.select('#cluster', clusterId);
  };
  /** Waits until the page shows the cluster's whole log: nothing of it left to draw. */
  const atHead = async (clusterId: string) => {
    const { lastSeq } = await dashboard.runtime.stores.events.readHead(clusterId);
    await page.waitForSelector(`#events [data-seq="${lastSeq}"]`);
    await page.waitForFunction(
      (seq: number) => Number(document.getElementById('incident')?.dataset.seq) >= seq,
      {},
      lastSeq,
    );
    await gridAt(page, lastSeq, 'live');
    return lastSeq;
  };

  it('follows the seed incident live: the grid at each phase is the seed table', async () => {
    await api.request('POST', '/clusters', {
      clusterId: 'seed',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await dashboard.runtime.poller.drain();
    await page.goto(`${dashboard.url}/#cluster=seed`, { waitUntil: 'load' });
    await gridAt(page, 1, 'live');
    expect(await table()).toBe(renderConfigurationTable(seedScenario.segments));
    expect(await text('#summary')).toBe('All segments are running normally');
    await shoot('0-healthy');

    const phases = {
      promoted: gate.reached('promoted'),
      synchronized: gate.reached('synchronized'),
      rebalanced: gate.reached('rebalanced'),
    };
    await api.request('POST', '/clusters/seed/faults', { host: 'segment-2' });
    // Started from the page, as a DBA would.
    await page.type('#recover-form [name=incidentId]', 'seed-segment-2');
    await page.$eval(
      '#recover-form [name=pollSeconds]',
      (n) => ((n as HTMLInputElement).value = '0'),
    );
    await page.click('#start');
    await page.waitForSelector('[data-result=ok]');
    expect(await text('#action-result')).toContain('incident seed-segment-2');

    const [promotedTable, synchronizedTable, rebalancedTable] = seedTables();
    const expected = [
      ['promoted', promotedTable, ['switched', 'down']],
      ['synchronized', synchronizedTable, ['switched']],
      ['rebalanced', rebalancedTable, []],
    ] as const;
    const seqs: Record<string, number> = {};
    for (const [i, [phase, want, sections]] of expected.entries()) {
      seqs[phase] = await phases[phase];
      await gridAt(page, seqs[phase], 'live');
      expect(await table(), `the live grid at phase ${phase}`).toBe(want);
      const shown = await page.$$eval('#summary [data-section]', (items) =>
        items.map((item) => (item as HTMLElement).dataset.section),
      );
      expect(shown).toEqual(sections);
      await shoot(`${i + 1}-${phase}`);
      gate.resume(phase);
    }
    const outcome = await dashboard.runtime.workflow.result('seed--seed-segment-2');
    expect((await outcome)?.status).toBe('succeeded');

    // At the end: the incident, its times, and the down/switched cells gone.
    await page.waitForFunction(
      () => document.getElementById('phase')?.textContent === 'completed: recovered',
    );
    const facts = await page.$$eval('#incident-facts [data-fact]', (items) =>
      Object.fromEntries(
        items.map((i) => [(i as HTMLElement).dataset.fact, i.querySelector('dd')?.textContent]),
      ),
    );
    for (const fact of ['time to promoted', 'time to redundant again', 'time to rebalanced'])
      expect(facts[fact], fact).toMatch(/^\d+(\.\d)? s$|^\d+ min \d+ s$/);
    // segment-2 held four segments: four copies, then gprecoverseg -r; four pairs caught up.
    expect(await page.$$eval('#copy-bars .bar.done', (bars) => bars.length)).toBe(5);
    expect(await page.$$eval('#sync-bars .bar.done', (bars) => bars.length)).toBe(4);
    expect(await page.$$('#grid .seg.down, #grid .seg.switched, #grid .seg.unsync')).toHaveLength(
      0,
    );
    await shoot('4-completed');

    // Time travel: the event that ended the promoted phase shows table 1 again.
    await atHead('seed');
    await clickRow((await page.waitForSelector(`#events [data-seq="${seqs.promoted}"]`))!);
    await gridAt(page, seqs.promoted!, 'history');
    expect(await table()).toBe(promotedTable);
    expect(await text('#as-of')).toMatch(new RegExp(`^as of seq ${seqs.promoted} `));
    await shoot('5-time-travel-promoted');
    await page.click('#back-live');
    await gridAt(page, seqs.rebalanced!, 'live');
    expect(await table()).toBe(rebalancedTable);
    expect(pageErrors).toEqual([]);
  });

  it('lists the clusters, shows a dry-run plan, and shows every API value as text', async () => {
    // Host names and datadirs are closed alphabets at the API; free text is not: a trigger's
    // detail (and failure reasons) reach the page as they were written.
    const markup =
      '<img src=x onerror="window.__injected=1"><script>window.__injected=2</script>&lt;b&gt;';
    const segments = seedScenario.segments.map((row) => ({
      ...row,
      datadir: row.datadir.replace('/data1/', '/data1/_x-y.z/'),
    }));
    await api.request('POST', '/clusters', {
      clusterId: 'markup',
      segments,
      simulation: { timeScale: 0 },
    });
    await pick('markup');
    await gridAt(page, 1, 'live');
    await api.request('POST', '/clusters/markup/faults', { host: 'segment-2' });
    const started = (await api.request('POST', '/clusters/markup/recoveries', {
      incidentId: 'markup-1',
      dryRun: true,
      trigger: { source: 'api', detail: markup },
      waits: { pollSeconds: 0 },
    })) as { executionName: string };
    expect((await dashboard.runtime.workflow.result(started.executionName))?.status).toBe(
      'succeeded',
    );
    await page.waitForFunction(
      (detail: string) =>
        [...document.querySelectorAll('#events .what')].some((n) =>
          n.textContent?.includes(detail),
        ),
      {},
      markup,
    );
    expect(
      await page.evaluate(() => ({
        injected: (window as { __injected?: number }).__injected,
        elements: document.querySelectorAll('main img, main script, #events b').length,
      })),
    ).toEqual({ injected: undefined, elements: 0 });
    expect(await text('#grid')).toContain('/data1/_x-y.z/primary/gpseg0');

    // A dry run from the page: the plan of the failed host, and nothing runs. Clicked once the
    // page has drawn the whole log, so that nothing above the button moves it meanwhile.
    await page.$eval(
      '#recover-form [name=incidentId]',
      (n) => ((n as HTMLInputElement).value = ''),
    );
    await atHead('markup');
    await page.click('#dry-run');
    await page.waitForSelector('[data-result=ok] table.plan');
    const pageRun = /execution (\S+)/.exec(await text('#action-result'))![1]!;
    expect((await dashboard.runtime.workflow.result(pageRun))?.status).toBe('succeeded');
    await atHead('markup');
    const plan = await page.$$eval('table.plan tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    );
    // The same failure planned through the API (incident markup-1) is the same plan.
    const { events } = (await api.request('GET', '/clusters/markup/events')) as {
      events: { type: string; data: { incidentId?: string; items?: PlanRow[] } }[];
    };
    const viaApi = events.find(
      (e) => e.type === 'RecoveryPlanned' && e.data.incidentId === 'markup-1',
    )!.data.items!;
    expect(viaApi.length).toBeGreaterThan(0);
    expect(plan).toEqual(
      viaApi.map((i) => [
        String(i.dbid),
        String(i.content),
        String(i.sourceDbid),
        i.type,
        'in place',
      ]),
    );

    expect(pageErrors).toEqual([]);

    // Input typed into the page comes back as text too: the API refuses a host name with markup.
    await page.type('#recover-form [name=failedHost]', '<b id=typed>segment-2</b>');
    await page.type('#recover-form [name=newHost]', 'segment-3');
    await page.click('#dry-run');
    await page.waitForSelector('[data-result=error]');
    expect(await text('#action-result')).toContain('HTTP 400');
    expect(await page.$('#typed')).toBeNull();

    // Approve and cancel are offered exactly when the API has such routes.
    const operator = ROUTES.filter(
      (r) =>
        r.method === 'POST' &&
        r.path.startsWith('/clusters/{clusterId}/') &&
        /approv|cancel/i.test(r.path.split('/').at(-1)!),
    ).map((r) => r.path);
    expect(
      await page.$$eval('#operator-actions [data-route]', (buttons) =>
        buttons.map((b) => (b as HTMLElement).dataset.route),
      ),
    ).toEqual(operator);
    if (operator.length === 0)
      expect(await text('#operator-note')).toContain('this API has no such route yet');
    await shoot('6-markup-dry-run');
    // The console's only complaint is the refused request.
    expect(pageErrors).toEqual([
      'Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
    pageErrors.length = 0;
  });

  it('keeps the rows a user may click across live updates: added and patched, never replaced', async () => {
    await api.request('POST', '/clusters', {
      clusterId: 'rows',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await pick('rows');
    await gridAt(page, 1, 'live');
    await page.waitForSelector('#events [data-seq="1"]');

    // What the page shows now, held by reference; and every row the page takes out from now on.
    const rowsBefore = await page.$$eval('#events [data-seq]', (rows) => rows.length);
    await page.evaluate(() => {
      const w = window as unknown as Watch;
      const one = (selector: string) => document.querySelector(selector)!;
      w.kept = {
        event: one('#events [data-seq="1"]'),
        host: one('#grid [data-host="segment-2"]'),
        down: one('#grid [data-dbid="6"]'),
        promoted: one('#grid [data-dbid="8"]'),
        phase: one('#incident-facts [data-fact=phase]'),
      };
      w.removed = [];
      w.states = { down: [], promoted: [] };
      const timeline = document.getElementById('events')!;
      const top = () => timeline.getBoundingClientRect().top + scrollY;
      w.tops = [top()];
      new MutationObserver((records) => {
        if (top() !== w.tops.at(-1)) w.tops.push(top());
        for (const record of records) {
          // The timeline's rows and the grid's cells (a new incident's bars replace the last ones).
          if ((record.target as Element).closest('#events, #grid'))
            for (const node of record.removedNodes)
              if (node instanceof Element && node.matches('[data-seq], [data-host], [data-dbid]'))
                w.removed.push(node.outerHTML.slice(0, 80));
          if (record.attributeName === 'data-state')
            for (const which of ['down', 'promoted'] as const)
              if (record.target === w.kept[which])
                w.states[which].push(w.kept[which].getAttribute('data-state')!);
        }
      }).observe(document.querySelector('main')!, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    const event = (await page.$('#events [data-seq="1"]'))!;

    // A recovery writes the log while the row is clicked again and again: every click lands.
    await api.request('POST', '/clusters/rows/faults', { host: 'segment-2' });
    const promoted = rowsGate.reached('promoted');
    const { executionName } = (await api.request('POST', '/clusters/rows/recoveries', {
      incidentId: 'rows-1',
      waits: { pollSeconds: 0 },
    })) as { executionName: string };
    let settled = false;
    const outcome = dashboard.runtime.workflow
      .result(executionName)!
      .finally(() => (settled = true));
    // Held at the promoted phase until the page shows it, in the cells it had from the start.
    await gridAt(page, await promoted, 'live');
    await page.waitForSelector('#grid [data-dbid="6"][data-state="down"]');
    await page.waitForSelector('#grid [data-dbid="8"][data-state~="switched"]');
    rowsGate.resume('promoted');
    let clicks = 0;
    do {
      await clickRow(event);
      await gridAt(page, 1, 'history');
      await page.click('#back-live');
      await gridAt(page, 1, 'live');
      clicks++;
    } while (!settled);
    expect((await outcome)?.status).toBe('succeeded');

    // Wait on state: the page has drawn the log's last event.
    await atHead('rows');
    expect(await page.$$eval('#events [data-seq]', (rows) => rows.length)).toBeGreaterThan(
      rowsBefore,
    );
    const watched = await page.evaluate(() => {
      const w = window as unknown as Watch;
      const one = (selector: string) => document.querySelector(selector);
      return {
        connected: Object.values(w.kept).every((node) => node.isConnected),
        same:
          one('#events [data-seq="1"]') === w.kept.event &&
          one('#grid [data-host="segment-2"]') === w.kept.host &&
          one('#grid [data-dbid="6"]') === w.kept.down &&
          one('#grid [data-dbid="8"]') === w.kept.promoted &&
          one('#incident-facts [data-fact=phase]') === w.kept.phase,
        removed: w.removed,
        states: w.states,
        tops: w.tops,
      };
    });
    expect(clicks).toBeGreaterThan(0);
    expect(watched.connected).toBe(true);
    expect(watched.same).toBe(true);
    expect(watched.removed).toEqual([]);
    // Nothing above the timeline grew or shrank: no row moved under the pointer that way either.
    expect(watched.tops).toHaveLength(1);
    // The same cells went down and switched, and came back: patched in place.
    expect(watched.states.down).toContain('down');
    expect(watched.states.down.at(-1)).toBe('ok');
    expect(watched.states.promoted.some((state) => state.split(' ').includes('switched'))).toBe(
      true,
    );
    expect(watched.states.promoted.at(-1)).toBe('ok');
    expect(await event.evaluate((node) => node.isConnected)).toBe(true);

    // A picked row stays picked while the log grows under it.
    await clickRow(event);
    await gridAt(page, 1, 'history');
    const dryRun = (await api.request('POST', '/clusters/rows/recoveries', {
      incidentId: 'rows-2',
      dryRun: true,
      waits: { pollSeconds: 0 },
    })) as { executionName: string };
    expect((await dashboard.runtime.workflow.result(dryRun.executionName))?.status).toBe(
      'succeeded',
    );
    const { lastSeq: dryRunSeq } = await dashboard.runtime.stores.events.readHead('rows');
    await page.waitForSelector(`#events [data-seq="${dryRunSeq}"]`);
    expect(
      await event.evaluate((node) => node.isConnected && node.classList.contains('selected')),
    ).toBe(true);
    expect(await page.$$eval('#events .selected', (rows) => rows.length)).toBe(1);
    await gridAt(page, 1, 'history');
    expect(await page.evaluate(() => (window as unknown as Watch).removed)).toEqual([]);
    await page.click('#back-live');
    await gridAt(page, dryRunSeq, 'live');
    expect(pageErrors).toEqual([]);
  });

  it("shows serve's watcher: its last look, and since when the cluster is not whole", async () => {
    await api.request('POST', '/clusters', {
      clusterId: 'watched',
      segments: seedScenario.segments,
      simulation: { timeScale: 0 },
    });
    await pick('watched');
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

    // Under auto the watcher starts the run for what it recorded: FTS had failed over before
    // the request, so the incident is promoted at it.
    await api.request('PUT', '/clusters/watched/rebalance-policy', {
      rebalancePolicy: 'immediate',
    });
    await api.request('PUT', '/clusters/watched/recovery-policy', { recoveryPolicy: 'auto' });
    await page.waitForFunction(
      () =>
        document.querySelector('[data-fact="incident"] dd')?.textContent?.startsWith('watch-') &&
        document.querySelector('[data-fact="time to rebalanced"] dd')?.textContent !== '—',
    );
    expect(await text('[data-fact="time to promoted"] dd')).toBe('0.0 s');
  });
  it('shows a lost coordinator whose activation waits for an operator, and approves it with the button', async () => {
    await api.request('POST', '/clusters', {
      clusterId: 'lostcoord',
      segments: seedScenario.segments,
      // The coordinator's host stays off: no fence, so an operator must approve.
      simulation: { timeScale: 0, hostRestartSeconds: null },
    });
    const runtime = dashboard.runtime;
    // One look while the coordinator lives: the standby seen streaming in sync, on record.
    await watchCluster(
      {
        stores: runtime.stores,
        cluster: runtime.steps.cluster,
        starter: runtime.workflow,
        notifier: { notify: async () => {} },
        now: () => new Date(),
      },
      'lostcoord',
    );
    await pick('lostcoord');
    await page.waitForFunction(() =>
      document.getElementById('coordinator')!.innerText.includes('standby dbid 10 streaming/sync'),
    );
    await api.request('POST', '/clusters/lostcoord/faults', { host: 'master' });
    await api.request('POST', '/clusters/lostcoord/recoveries', {
      kind: 'coordinator',
      incidentId: 'lost-1',
      waits: { pollSeconds: 1, approvalPollSeconds: 1 },
    });
    await page.waitForSelector('#coordinator[data-state=awaiting]');
    expect(await text('#coordinator')).toMatch(
      /^coordinator dbid 1 lost · activation of standby dbid 10 awaits approval: the old coordinator dbid 1 \(master:5432\) cannot be fenced/,
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#operator-actions button')].some(
        (b) => (b as HTMLElement).innerText === 'Approve standby activation',
      ),
    );
    const approve = await page.waitForSelector(
      '::-p-xpath(//div[@id="operator-actions"]/button[normalize-space()="Approve standby activation"])',
    );
    await approve!.click();
    // Approved, fenced as none (the approval said so), activated: dbid 10 is the coordinator.
    await page.waitForFunction(
      () =>
        document.getElementById('coordinator')!.innerText === 'coordinator dbid 10 · no standby',
    );
    const types = (await runtime.stores.events.read('lostcoord')).map((e) => e.type);
    expect(types.slice(-5)).toEqual([
      'CoordinatorFailoverAwaitingApproval',
      'CoordinatorFailoverApproved',
      'CoordinatorFenced',
      'StandbyActivated',
      'CoordinatorFailoverCompleted',
    ]);
  });
});

/** What the page keeps for the test: elements held by reference, rows taken out, cell states. */
interface Watch {
  kept: Record<'event' | 'host' | 'down' | 'promoted' | 'phase', Element>;
  removed: string[];
  states: Record<'down' | 'promoted', string[]>;
  /** Where the timeline's top was on the page, each time it moved. */
  tops: number[];
}

interface PlanRow {
  dbid: number;
  content: number;
  sourceDbid: number;
  type: string;
}

/** Two task observers in turn. */
function both(a: TaskObserver, b: TaskObserver): TaskObserver {
  return {
    async onTaskSucceeded(task, payload, output) {
      await a.onTaskSucceeded?.(task, payload, output);
      await b.onTaskSucceeded?.(task, payload, output);
    },
  };
}

function chromiumAvailable(): boolean {
  try {
    chromiumPath();
    return true;
  } catch {
    return false;
  }
}
