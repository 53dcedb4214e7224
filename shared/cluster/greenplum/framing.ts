import { MalformedOutput } from './errors.ts';

/**
 * Scripts print named sections between marker lines and finish with an end marker, so one
 * Run Command can answer several questions and a cut-off answer is detected instead of parsed.
 */
const PREFIX = '@@recoverseg:';
export const END_MARKER = `${PREFIX}end@@`;
export const sectionMarker = (name: string): string => `${PREFIX}section ${name}@@`;

export interface OutputLine {
  /** 1-based line number in the whole command output, for error messages. */
  number: number;
  text: string;
}

export type Sections = ReadonlyMap<string, OutputLine[]>;

export function splitSections(command: string, output: string): Sections {
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const sections = new Map<string, OutputLine[]>();
  let current: OutputLine[] | undefined;
  let ended = false;
  lines.forEach((text, index) => {
    const number = index + 1;
    if (ended) throw new MalformedOutput(command, number, text, 'output after the end marker');
    if (text === END_MARKER) {
      ended = true;
      return;
    }
    const marker = /^@@recoverseg:section ([a-z_]+)@@$/.exec(text);
    if (marker) {
      current = [];
      sections.set(marker[1]!, current);
      return;
    }
    if (!current)
      throw new MalformedOutput(command, number, text, 'output before the first section');
    current.push({ number, text });
  });
  if (!ended)
    throw new MalformedOutput(
      command,
      lines.length,
      lines.at(-1) ?? '',
      'output ended without its end marker',
    );
  return sections;
}

export function section(command: string, sections: Sections, name: string): OutputLine[] {
  const lines = sections.get(name);
  if (!lines) throw new MalformedOutput(command, 0, '', `section "${name}" missing`);
  return lines;
}

/** A section that answers one question in one line; anything else is not an answer. */
export function singleLine(
  command: string,
  lines: readonly OutputLine[],
  expected: string,
): OutputLine {
  const line = lines[0];
  if (!line || lines.length !== 1)
    throw new MalformedOutput(command, line?.number ?? 0, line?.text ?? '', `expected ${expected}`);
  return line;
}

/**
 * A tool's whole output and its exit status, printed in the sections `name` and `name_rc`
 * (gpstate, gpactivatestandby, gpinitstandby): these tools report failures in their output and
 * exit non-zero, so the script keeps going and the parser reads both.
 */
export function toolOutput(
  command: string,
  sections: Sections,
  name: string,
): { text: string; exitStatus: number } {
  const rc = singleLine(command, section(command, sections, `${name}_rc`), 'an exit status');
  if (!/^\d+$/.test(rc.text))
    throw new MalformedOutput(command, rc.number, rc.text, 'expected an exit status');
  return {
    text: section(command, sections, name)
      .map((line) => line.text)
      .join('\n'),
    exitStatus: Number(rc.text),
  };
}
