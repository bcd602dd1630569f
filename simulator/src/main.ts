#!/usr/bin/env node
/** breakwater-llm-sim: checks the Node.js version, then loads the LLM simulator (simulatorMain.ts). */
import { requireSupportedNode } from '../../contract/src/platform/supportedNode.ts';

requireSupportedNode('breakwater-llm-sim');
await import('./simulatorMain.ts');
