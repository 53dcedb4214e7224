import { singleLine, type OutputLine } from './framing.ts';
import { UnsupportedGreenplumVersion } from './version-errors.ts';

/**
 * What differs between the releases recoverseg drives, one table per release family. Sources:
 * Greenplum 6.24.3 captures (test/fixtures/greenplum-6.24.3) and its gpMgmt; Greenplum 7 and
 * Cloudberry 2 from their gpMgmt sources (no capture).
 */
export interface VersionFamily {
  name: 'Greenplum 6' | 'Greenplum 7' | 'Cloudberry 2';
  /** Sourced from `$GPHOME` to get the tools on PATH. */
  environmentScript: 'greenplum_path.sh' | 'cloudberry-env.sh';
  /** Where the management tools look for the coordinator data directory. */
  dataDirectoryVariable: 'MASTER_DATA_DIRECTORY' | 'COORDINATOR_DATA_DIRECTORY';
  /**
   * Per walsender: WAL the acting primary has not sent yet, and WAL the mirror has flushed but
   * not replayed. Evaluated on each segment (gp_dist_random): the current position that matters
   * is the acting primary's, not the coordinator's (capture 100 vs 101).
   */
  walLagSql: string;
  /**
   * How `gprecoverseg -r` is kept from promoting a mirror far behind on replay: the
   * `--replay-lag` flag, or (6.x, which has no such flag) recoverseg's own SQL, returning
   * `acting primary dbid|replay lag bytes` for the pairs a rebalance would swap.
   */
  rebalanceReplayLag: { kind: 'flag' } | { kind: 'sql'; sql: string };
  /**
   * `--differential`: absent on 6.x; 7.x and Cloudberry refuse it with `-i` ("Only one of -i,
   * -p, -r and --differential may be specified"), so it recovers every down segment at once.
   */
  differential: 'unsupported' | 'every-down-segment';
  /**
   * A segment rebuilt on another host: 7.x takes a two-group `-i` line; 6.x skips such a line
   * when the old host is unreachable ("Not recovering segment N because H is unreachable") and
   * only `-p NEWHOST` works, which relocates every down segment of each failed host, keeps the
   * data directory and picks ports itself from the lowest segment port.
   */
  relocation: 'config-file' | 'new-hosts';
  /**
   * The standby (content -1): pg_stat_replication's WAL location columns on the coordinator
   * (9.4's `*_location`, capture 114; 12's `*_lsn`), the line gpactivatestandby prints when the
   * activation has completed (capture 128) and the start of gpinitstandby's (captures 111,
   * 135): 7.x and Cloudberry renamed master to coordinator in both. gpactivatestandby's `-d`
   * and gpinitstandby's `-a -s -P -S` are the same in all three.
   */
  standby: {
    locationColumns: { sent: string; flush: string; replay: string };
    activated: string;
    initialized: string;
  };
}

const WAL_LAG_SQL_6 =
  'SELECT gp_execution_segment(), application_name, ' +
  'pg_xlog_location_diff(pg_current_xlog_location(), sent_location)::bigint, ' +
  'pg_xlog_location_diff(flush_location, replay_location)::bigint ' +
  "FROM gp_dist_random('pg_stat_replication') ORDER BY 1, 2";

const WAL_LAG_SQL_7 =
  'SELECT gp_execution_segment(), application_name, ' +
  'pg_wal_lsn_diff(pg_current_wal_flush_lsn(), sent_lsn)::bigint, ' +
  'pg_wal_lsn_diff(flush_lsn, replay_lsn)::bigint ' +
  "FROM gp_dist_random('pg_stat_replication') ORDER BY 1, 2";

/**
 * gprecoverseg 7 checks `flush - replay` of each pair it would swap (up, synchronized, acting
 * primary not in its preferred role) and names the acting primary's dbid; this is the same check
 * in 6.x's spelling (capture 100 shows these columns on 6.24.3).
 */
const REPLAY_LAG_SQL_6 =
  'SELECT p.dbid, pg_xlog_location_diff(r.flush_location, r.replay_location)::bigint ' +
  'FROM gp_stat_replication r JOIN gp_segment_configuration p ' +
  "ON p.content = r.gp_segment_id AND p.role = 'p' " +
  "WHERE r.application_name = 'gp_walreceiver' AND p.preferred_role <> p.role AND p.mode = 's' " +
  'ORDER BY 1';

const STANDBY_7: VersionFamily['standby'] = {
  locationColumns: { sent: 'sent_lsn', flush: 'flush_lsn', replay: 'replay_lsn' },
  activated: 'The activation of the standby coordinator has completed successfully.',
  initialized: 'Successfully created standby coordinator on ',
};

export const GREENPLUM_6: VersionFamily = {
  name: 'Greenplum 6',
  environmentScript: 'greenplum_path.sh',
  dataDirectoryVariable: 'MASTER_DATA_DIRECTORY',
  walLagSql: WAL_LAG_SQL_6,
  rebalanceReplayLag: { kind: 'sql', sql: REPLAY_LAG_SQL_6 },
  differential: 'unsupported',
  relocation: 'new-hosts',
  standby: {
    locationColumns: { sent: 'sent_location', flush: 'flush_location', replay: 'replay_location' },
    activated: 'The activation of the standby master has completed successfully.',
    initialized: 'Successfully created standby master on ',
  },
};

export const GREENPLUM_7: VersionFamily = {
  name: 'Greenplum 7',
  environmentScript: 'greenplum_path.sh',
  dataDirectoryVariable: 'COORDINATOR_DATA_DIRECTORY',
  walLagSql: WAL_LAG_SQL_7,
  rebalanceReplayLag: { kind: 'flag' },
  differential: 'every-down-segment',
  relocation: 'config-file',
  standby: STANDBY_7,
};

export const CLOUDBERRY_2: VersionFamily = {
  name: 'Cloudberry 2',
  environmentScript: 'cloudberry-env.sh',
  dataDirectoryVariable: 'COORDINATOR_DATA_DIRECTORY',
  walLagSql: WAL_LAG_SQL_7,
  rebalanceReplayLag: { kind: 'flag' },
  differential: 'every-down-segment',
  relocation: 'config-file',
  standby: STANDBY_7,
};

/** Every environment script a family may use, for the one script run before the version is known. */
export const ENVIRONMENT_SCRIPTS = ['cloudberry-env.sh', 'greenplum_path.sh'] as const;

export interface ClusterVersion {
  /** As people say it: `6.24.3` for Greenplum, `Cloudberry 2.0.0`. */
  display: string;
  /** The `postgres --gp-version` line it was read from. */
  text: string;
  family: VersionFamily;
}

/**
 * `postgres (Greenplum Database) 6.24.3 build commit:25d3…` (capture 01a; 7.x prints the same
 * form), `postgres (Apache Cloudberry) 2.0.0…` (Cloudberry's main.c).
 */
const GP_VERSION = /^postgres \((Greenplum Database|Apache Cloudberry)\) (\d+)\.(\d+)\.(\d+)\S*/;

export function parseGpVersion(command: string, lines: readonly OutputLine[]): ClusterVersion {
  const line = singleLine(command, lines, 'one postgres --gp-version line');
  const text = line.text.trim();
  const match = GP_VERSION.exec(text);
  if (!match) throw new UnsupportedGreenplumVersion(text);
  const release = `${match[2]}.${match[3]}.${match[4]}`;
  const family = familyFor(match[1]!, Number(match[2]));
  if (!family) throw new UnsupportedGreenplumVersion(text);
  return {
    display: family === CLOUDBERRY_2 ? `Cloudberry ${release}` : release,
    text,
    family,
  };
}

function familyFor(product: string, major: number): VersionFamily | undefined {
  if (product === 'Apache Cloudberry') return major === 2 ? CLOUDBERRY_2 : undefined;
  if (major === 6) return GREENPLUM_6;
  if (major === 7) return GREENPLUM_7;
  return undefined;
}
