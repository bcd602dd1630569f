#!/usr/bin/env node
/** breakwater-runtime: checks the Node.js version, then loads the agent runtime (runtimeMain.ts). */
import { requireSupportedNode } from '../../contract/src/platform/supportedNode.ts';

requireSupportedNode('breakwater-runtime');
await import('./runtimeMain.ts');
