/** What a caught value says: an Error's message, or the value as text (a rejection may be anything). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
