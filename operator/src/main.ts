#!/usr/bin/env node
/** breakwater-operator: checks the Node.js version, then loads the operator (operatorMain.ts). */
import { requireSupportedNode } from '../../platform/src/node/supportedNode.ts';

requireSupportedNode('breakwater-operator');
await import('./operatorMain.ts');
