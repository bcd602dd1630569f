/** Why the demo environment could not start or stop, in words its reader can act on. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/** A value the state file must hold; its absence means the file is from an older or broken run. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new EnvironmentError(
      `the demo's state file has no ${what}; run \`make down\` and start again`,
    );
  }
  return value;
}
