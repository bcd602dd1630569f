#!/usr/bin/env node
/** breakwater-operator: checks the Node.js version, then loads the operator (operatorMain.ts). */
import { requireSupportedNode } from '../../runtime/src/cli/supportedNode.ts';

requireSupportedNode('breakwater-operator');
await import('./operatorMain.ts');
