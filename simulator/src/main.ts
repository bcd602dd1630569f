#!/usr/bin/env node
/** breakwater-llm-sim: checks the Node.js version, then loads the LLM simulator (simulatorMain.ts). */
import { requireSupportedNode } from '../../platform/src/node/supportedNode.ts';

requireSupportedNode('breakwater-llm-sim');
await import('./simulatorMain.ts');
