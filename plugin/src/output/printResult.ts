/**
 * Every command returns a result object: `-o json` and `-o yaml` print it as it is, and a
 * table is rendered from the same object, so the three can never disagree.
 */
import { stringify } from 'yaml';
import type { OutputFormat } from '../cli/pluginArgs.ts';

export interface CommandResult<T> {
  readonly data: T;
  readonly table: (data: T) => string;
}

export function formatResult<T>(result: CommandResult<T>, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(result.data, null, 2)}\n`;
    case 'yaml':
      return stringify(result.data);
    case 'table':
      return result.table(result.data);
  }
}
