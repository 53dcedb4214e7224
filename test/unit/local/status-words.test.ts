import { describe, expect, it } from 'vitest';
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
