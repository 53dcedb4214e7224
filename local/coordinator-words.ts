import { approveCommand } from '#local/follow.ts';

/** The status route's `coordinator`: the log's record of content -1 beyond its rows. */
export interface CoordinatorStatus {
  policy: {
    policy: string;
    maxObservationAgeSeconds: number;
    newStandby?: { hostname: string; port: number; datadir: string };
  };
  standby?: {
    standbyDbid: number;
    replication: { state: string; syncState?: string; replayLocation?: string };
    seq: number;
    at?: string;
  };
  unreachable?: { coordinatorDbid: number; detail: string; since?: string };
  failover?: {
    incidentId: string;
    coordinatorDbid: number;
    standbyDbid: number;
    startedAt?: string;
    awaitingApproval?: { risk: string; fence: string; since?: string };
    approved?: { by: string; at?: string };
    fenced?: { how: string; detail: string; at?: string };
    activated?: { at?: string };
    clients: { how: string; endpoint: string; to: string }[];
  };
  standbyFailure?: { incidentId: string; hostname: string; reason: string; at?: string };
  lastFailover?: {
    incidentId: string;
    status: string;
    at?: string;
    outcome?: string;
    reason?: string;
  };
}

/** `recoverseg status`'s lines about the coordinator, its standby and a failover. */
export function coordinatorInWords(clusterId: string, c: CoordinatorStatus): string[] {
  const seen = c.standby
    ? `standby dbid ${c.standby.standbyDbid} last seen ${c.standby.replication.state}${c.standby.replication.syncState ? `/${c.standby.replication.syncState}` : ''} at ${c.standby.at ?? 'an unknown time'} (seq ${c.standby.seq})`
    : 'no observation of a standby on record';
  const next = c.policy.newStandby
    ? `; after a failover, a new standby on ${c.policy.newStandby.hostname}:${c.policy.newStandby.port} (${c.policy.newStandby.datadir})`
    : '';
  const lines = [
    `coordinator policy ${c.policy.policy} (the standby must have been seen in sync at most ${c.policy.maxObservationAgeSeconds} s before a loss${next}); ${seen}`,
  ];
  if (c.unreachable)
    lines.push(
      `COORDINATOR LOST: dbid ${c.unreachable.coordinatorDbid} does not answer since ${c.unreachable.since ?? 'an unknown time'} (${c.unreachable.detail})`,
    );
  const f = c.failover;
  if (f) {
    lines.push(
      `coordinator failover in progress: incident ${f.incidentId}, dbid ${f.coordinatorDbid} -> standby dbid ${f.standbyDbid}, started ${f.startedAt ?? 'at an unknown time'}`,
    );
    if (f.awaitingApproval && !f.approved)
      lines.push(
        `  waiting for an operator since ${f.awaitingApproval.since ?? 'an unknown time'}: ${f.awaitingApproval.risk}; approve with: ${approveCommand(clusterId)}`,
      );
    if (f.approved) lines.push(`  approved by ${f.approved.by}`);
    if (f.fenced) lines.push(`  old coordinator fenced (${f.fenced.how}): ${f.fenced.detail}`);
    if (f.activated) lines.push(`  standby dbid ${f.standbyDbid} activated at ${f.activated.at}`);
    for (const moved of f.clients)
      lines.push(`  clients moved to ${moved.to} (${moved.how}: ${moved.endpoint})`);
  }
  if (c.standbyFailure)
    lines.push(
      `last gpinitstandby on ${c.standbyFailure.hostname} FAILED (incident ${c.standbyFailure.incidentId}${c.standbyFailure.at ? ` at ${c.standbyFailure.at}` : ''}): ${c.standbyFailure.reason}`,
    );
  const last = c.lastFailover;
  if (last)
    lines.push(
      `last coordinator failover: ${last.incidentId} ${last.status}${last.outcome ? ` (${last.outcome})` : ''}${last.at ? ` at ${last.at}` : ''}${last.reason ? `: ${last.reason}` : ''}`,
    );
  return lines;
}
