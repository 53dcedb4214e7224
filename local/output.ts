import {
  renderConfigurationTable,
  renderGpstateErrors,
  renderGpstateMirrors,
  historyOf,
  renderHistoryLine,
} from '#domain/render.ts';
import type { ClusterState } from '#domain/evolve.ts';
import type { RecordedEvent } from '#domain/events.ts';
import type { SegmentRow } from '#domain/segment.ts';

/** Where the CLI writes: human output to stdout, diagnostics to stderr. */
export interface Out {
  line(text?: string): void;
  progress(label: string, fraction: number, detail: string): void;
  done(): void;
}

const BAR = 30;

/** A progress bar that redraws in place on a terminal, and plain lines when piped. */
export function terminalOut(stream: NodeJS.WriteStream = process.stdout): Out {
  let drawing = false;
  return {
    line(text = '') {
      if (drawing) stream.write('\n');
      drawing = false;
      stream.write(`${text}\n`);
    },
    progress(label, fraction, detail) {
      const clamped = Math.max(0, Math.min(1, fraction));
      const pct = `${Math.floor(clamped * 100)}%`.padStart(4);
      if (stream.isTTY) {
        const filled = Math.round(clamped * BAR);
        stream.write(
          `\r${label} [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${pct} ${detail}\x1b[K`,
        );
        drawing = true;
      } else stream.write(`${label} ${pct} ${detail}\n`);
    },
    done() {
      if (drawing) stream.write('\n');
      drawing = false;
    },
  };
}

export const GPSTATE_PREFIX = 'gpstate:coordinator:gpadmin-[INFO]:-';

export function printTable(out: Out, title: string, rows: readonly SegmentRow[]): void {
  out.line(`## ${title}`);
  out.line();
  out.line(renderConfigurationTable(rows));
  out.line();
}

export function printGpstate(out: Out, state: ClusterState): void {
  const rows = [...state.segments.values()];
  out.line('$ gpstate -m');
  for (const line of renderGpstateMirrors(rows)) out.line(`${GPSTATE_PREFIX}${line}`);
  out.line();
  out.line('$ gpstate -e');
  for (const line of renderGpstateErrors(state)) out.line(`${GPSTATE_PREFIX}${line}`);
  out.line();
}

export function printHistory(out: Out, events: readonly RecordedEvent[]): void {
  out.line('gp_configuration_history (time | seq | dbid | desc):');
  for (const line of historyOf(events)) out.line(`  ${renderHistoryLine(line)}`);
  out.line();
}

export const formatBytes = (bytes: number): string =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GB`
    : bytes >= 1024 ** 2
      ? `${(bytes / 1024 ** 2).toFixed(1)} MB`
      : bytes >= 1024
        ? `${(bytes / 1024).toFixed(1)} kB`
        : `${bytes} B`;
