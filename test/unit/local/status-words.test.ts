import { describe, expect, it } from 'vitest';
import { coordinatorInWords } from '#local/coordinator-words.ts';
import { statusInWords } from '#local/follow.ts';

/** `recoverseg status` on a run whose last read of the cluster could not be understood. */
const status = (seq: number) => ({
  clusterId: 'gp6',
  seq,
  phase: 'detecting',
  recovery: {
    incidentId: 'i1',
    trigger: { source: 'cli' },
    started: [],
    recovered: [],
    failures: [],
    unreadable: {
      what: 'read gp_segment_configuration',
      problem: 'pg_isready exit status 65 (not one libpq defines) says nothing about dbid 8',
      seq: 12,
    },
  },
  lastIncident: null,
  rebalancePolicy: null,
  doubleFaults: [],
  gpstateMirrors: [],
  gpstateErrors: [],
});

describe('statusInWords: an answer recoverseg could not read', () => {
  it('says "unreadable, retrying" while that answer is the log\'s last word, never a cluster failure', () => {
    expect(statusInWords(status(12))).toContain(
      "  unreadable, retrying: read gp_segment_configuration: pg_isready exit status 65 (not one libpq defines) says nothing about dbid 8 (the answer is on record at seq 12; it says nothing about the cluster's health)",
    );
  });

  it('says nothing of it once a later read went through (the log moved on)', () => {
    expect(statusInWords(status(13)).join('\n')).not.toContain('unreadable');
  });
});

describe("statusInWords: the watcher's line", () => {
  const now = new Date('2026-12-03T10:00:10Z');
  const watched = (
    lastLook: {
      at: string;
      whole: boolean;
      action: string;
      started?: string;
      error?: string;
    } | null,
    wholeUntil: string | null = '2026-12-03T09:58:00Z',
  ) => ({
    ...status(13),
    recoveryPolicy: 'auto',
    watch: { wholeOnRecord: false, seenWholeAt: '2026-12-03T09:00:00Z', wholeUntil, lastLook },
  });

  it.each([
    [
      'a look that started a run',
      watched({ at: '2026-12-03T09:59:58Z', whole: false, action: 'start', started: 'watch-7' }),
      'watcher: last look 12.0 s ago: not whole, started incident watch-7; last whole at 2026-12-03T09:58:00Z (2 min 10 s ago)',
    ],
    [
      'a look that failed',
      watched({
        at: '2026-12-03T10:00:05Z',
        whole: false,
        action: 'failed',
        error: 'Error: refused',
      }),
      'watcher: last look 5.0 s ago: failed (Error: refused); last whole at 2026-12-03T09:58:00Z (2 min 10 s ago)',
    ],
    [
      'a whole cluster',
      watched({ at: '2026-12-03T10:00:09Z', whole: true, action: 'record' }),
      'watcher: last look 1.0 s ago: whole; whole now',
    ],
    [
      'no watcher in this API',
      watched(null, null),
      'watcher: no look by this API (serve --watch-seconds 0, or behind API Gateway: see the CloudWatch dashboard); never seen whole yet',
    ],
  ])('%s', (_what, body, line) => {
    const words = statusInWords(body, now);
    expect(words[0]).toBe(
      'cluster gp6 at seq 13; recovery policy auto, rebalance policy the default of the trigger',
    );
    expect(words[1]).toBe(line);
  });
});

describe('statusInWords: the coordinator', () => {
  const policy = { policy: 'approval', maxObservationAgeSeconds: 60 };
  const standby = {
    standbyDbid: 10,
    replication: { state: 'streaming', syncState: 'sync' },
    seq: 40,
    at: '2026-12-03T08:11:15.000Z',
  };

  it('names the policy and the last observation of the standby', () => {
    expect(coordinatorInWords('gp6', { policy, standby })).toEqual([
      'coordinator policy approval (the standby must have been seen in sync at most 60 s before a loss); standby dbid 10 last seen streaming/sync at 2026-12-03T08:11:15.000Z (seq 40)',
    ]);
  });

  it('says the coordinator is lost, what the failover waits for and how to approve', () => {
    const lines = coordinatorInWords('gp6', {
      policy,
      standby,
      unreachable: { coordinatorDbid: 1, detail: 'pg_isready mdw:5432: no response', since: 'T1' },
      failover: {
        incidentId: 'watch-42',
        coordinatorDbid: 1,
        standbyDbid: 10,
        startedAt: 'T2',
        awaitingApproval: { risk: 'no fence', fence: 'none', since: 'T3' },
        clients: [],
      },
    });
    expect(lines.slice(1)).toEqual([
      'COORDINATOR LOST: dbid 1 does not answer since T1 (pg_isready mdw:5432: no response)',
      'coordinator failover in progress: incident watch-42, dbid 1 -> standby dbid 10, started T2',
      '  waiting for an operator since T3: no fence; approve with: recoverseg approve --cluster gp6',
    ]);
  });

  it('tells a failover done: fenced, activated, clients moved, and how it ended', () => {
    const lines = coordinatorInWords('gp6', {
      policy,
      failover: {
        incidentId: 'watch-42',
        coordinatorDbid: 1,
        standbyDbid: 10,
        startedAt: 'T2',
        fenced: { how: 'pg-ctl-stop-immediate', detail: 'no postmaster ran on mdw' },
        activated: { at: 'T4' },
        clients: [{ how: 'hook', endpoint: '/usr/local/bin/vip', to: 'smdw' }],
      },
      lastFailover: { incidentId: 'watch-7', status: 'refused', reason: 'stale' },
    });
    expect(lines.slice(2)).toEqual([
      '  old coordinator fenced (pg-ctl-stop-immediate): no postmaster ran on mdw',
      '  standby dbid 10 activated at T4',
      '  clients moved to smdw (hook: /usr/local/bin/vip)',
      'last coordinator failover: watch-7 refused: stale',
    ]);
  });

  it('names where a failover creates the new standby when the policy says', () => {
    expect(
      coordinatorInWords('gp6', {
        policy: { ...policy, newStandby: { hostname: 'mdw', port: 5432, datadir: '/data1/m2' } },
      })[0],
    ).toBe(
      'coordinator policy approval (the standby must have been seen in sync at most 60 s before a loss; after a failover, a new standby on mdw:5432 (/data1/m2)); no observation of a standby on record',
    );
  });

  it('says the last gpinitstandby failed, in its own words, until a standby is created', () => {
    expect(
      coordinatorInWords('gp6', {
        policy,
        standbyFailure: {
          incidentId: 'api-1',
          hostname: 'mdw',
          reason: 'gpinitstandby on mdw refused: master data directory exists',
          at: 'T5',
        },
      }).at(-1),
    ).toBe(
      'last gpinitstandby on mdw FAILED (incident api-1 at T5): gpinitstandby on mdw refused: master data directory exists',
    );
  });
});
