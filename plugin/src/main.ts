#!/usr/bin/env node
/** kubectl-breakwater: checks the Node.js version, then loads the plugin (pluginMain.ts). */
import { requireSupportedNode } from '../../platform/src/node/supportedNode.ts';

requireSupportedNode('kubectl-breakwater');
await import('./pluginMain.ts');
