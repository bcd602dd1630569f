#!/usr/bin/env node
/** breakwater-runtime: checks the Node.js version, then loads the agent runtime (runtimeMain.ts). */
import { requireSupportedNode } from '../../platform/src/node/supportedNode.ts';

requireSupportedNode('breakwater-runtime');
await import('./runtimeMain.ts');
