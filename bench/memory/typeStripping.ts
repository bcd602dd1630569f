/** Imported first by the memory bench's start-up stages: what Node's type stripper costs. */
export const stripped: boolean = true;
