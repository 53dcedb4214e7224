import { describe } from 'vitest';
import { FTS_RULES, type ProbedContent } from '#domain/fts-rules.ts';
import { everyRow } from './rows.ts';

describe('FTS_RULES', () => {
  const healthy: ProbedContent = {
    primaryRunning: true,
    hasMirror: true,
    mirrorRunning: true,
    mirrorStatus: 'u',
    catalogInSync: true,
    streaming: true,
    mirrorGraceOver: false,
  };
  const probed = (over: Partial<ProbedContent>): ProbedContent => ({ ...healthy, ...over });
  everyRow(FTS_RULES, [
    [1, probed({ primaryRunning: false })],
    [2, probed({ primaryRunning: false, mirrorRunning: false })],
    [3, probed({ primaryRunning: false, catalogInSync: false })],
    [
      3,
      probed({
        primaryRunning: false,
        mirrorRunning: false,
        mirrorStatus: 'd',
        catalogInSync: false,
      }),
    ],
    [
      4,
      probed({
        primaryRunning: false,
        hasMirror: false,
        mirrorRunning: false,
        mirrorStatus: undefined,
        catalogInSync: false,
      }),
    ],
    [5, probed({ mirrorRunning: false, streaming: false })],
    [6, probed({ mirrorRunning: false, streaming: false, mirrorGraceOver: true })],
    [7, probed({ mirrorStatus: 'd', catalogInSync: false, streaming: false })],
    [8, probed({ catalogInSync: false })],
    [9, healthy],
    [9, probed({ catalogInSync: false, streaming: false })],
  ]);
});
