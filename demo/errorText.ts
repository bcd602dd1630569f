/** An error as a person reads it: a cluster error with its component and log tail. */
import { describeClusterError, isClusterError } from '../tools/cluster/clusterError.ts';

export function errorText(err: unknown): string {
  if (isClusterError(err)) return describeClusterError(err);
  return err instanceof Error ? err.message : String(err);
}
