#!/usr/bin/env node
/**
 * `breakwater`, the image's ENTRYPOINT: runs the program its first argument names (see
 * programDispatch.ts), the agent runtime when it names none.
 */
import { dispatch, usage } from './programDispatch.ts';
import { requireSupportedNode } from './supportedNode.ts';

async function main(): Promise<void> {
  requireSupportedNode('breakwater');
  const chosen = dispatch(process.argv.slice(2));
  switch (chosen.kind) {
    case 'help':
      process.stdout.write(`${usage()}\n`);
      return;
    case 'unknown':
      process.stderr.write(
        `breakwater: "${chosen.word}" is not a program of this image.\n\n${usage()}\n`,
      );
      process.exitCode = 2;
      return;
    case 'run': {
      // The program reads process.argv.slice(2), as when it is started by its own name.
      process.argv.splice(2, process.argv.length - 2, ...chosen.args);
      // From dist/ a program runs as package.json `bin` names it; from source, its entry.
      const file = import.meta.url.endsWith('.ts')
        ? `${chosen.program.entry}.ts`
        : `${chosen.program.built}.js`;
      await import(new URL(`../../../${file}`, import.meta.url).href);
    }
  }
}

await main();
