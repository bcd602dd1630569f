export { buildChildren, type ChildObjects, type ChildReference } from './childObjects.ts';
export { DEFAULT_RUNTIME_IMAGE, type BuilderOptions } from './builderOptions.ts';
export { AGENT_LABEL, commonLabels, selectorLabels, selectorString } from './labels.ts';
