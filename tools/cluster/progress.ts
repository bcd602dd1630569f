/** Where the cluster code reports what it is doing: one human-readable line at a time. */
export type Progress = (line: string) => void;

export const printProgress: Progress = (line) => {
  process.stdout.write(`${line}\n`);
};

export const silentProgress: Progress = () => undefined;

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
