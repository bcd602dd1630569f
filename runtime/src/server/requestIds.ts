/**
 * Request ids: unique across replicas and restarts (a random part drawn once per process)
 * and cheap per request (a counter), unlike a UUID per request. Shaped like the API's
 * (`req_...`), so a caller's tooling that reads one reads the other.
 */
import { randomBytes } from 'node:crypto';

const PROCESS_ID = randomBytes(9).toString('base64url');
let requestCount = 0;

export function nextRequestId(): string {
  requestCount = (requestCount + 1) % Number.MAX_SAFE_INTEGER;
  return `req_${PROCESS_ID}${requestCount.toString(36).padStart(8, '0')}`;
}
