/** Why a cluster tool could not do what was asked; stable codes for callers and tests. */
export type ClusterErrorCode =
  | 'PortInUse'
  | 'ToolMissing'
  | 'BinariesUnavailable'
  | 'ExitedEarly'
  | 'NotReady'
  | 'Busy'
  | 'InvalidConfig';

export interface ClusterErrorDetails {
  /** The component or tool at fault (`kube-apiserver`, `openssl`, `binaries`). */
  readonly component: string;
  /** The last lines of the component's log, when it has one. */
  readonly logTail?: string;
  readonly logPath?: string;
}

export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  readonly code: ClusterErrorCode;
  readonly component: string;
  readonly logTail: string | undefined;
  readonly logPath: string | undefined;

  constructor(code: ClusterErrorCode, message: string, details: ClusterErrorDetails) {
    super(message);
    this.code = code;
    this.component = details.component;
    this.logTail = details.logTail;
    this.logPath = details.logPath;
  }
}

export function isClusterError(error: unknown): error is ClusterError {
  return error instanceof ClusterError;
}

/** The message a person reads: what failed, why, and the end of its log. */
export function describeClusterError(error: ClusterError): string {
  const lines = [`${error.component}: ${error.message}`];
  if (error.logTail !== undefined && error.logPath !== undefined) {
    lines.push(`--- last lines of ${error.logPath} ---`, error.logTail.trimEnd(), '---');
  }
  return lines.join('\n');
}
