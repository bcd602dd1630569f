/**
 * `make test` runs the bundle's suites on scripts/image-layout.sh's copy of what the image ships,
 * so a package the image leaves out fails there first. That holds only while the script ships
 * what the Dockerfile's last stage copies from the build: the same `dist/` folders, nothing
 * more, nothing less. Both files are read as written; a folder added to one and not the other
 * fails here.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The last stage of a Dockerfile: the lines after its last `FROM`. */
function lastStage(dockerfile: string): string[] {
  const lines = dockerfile.split('\n');
  const from = lines.findLastIndex((l) => /^FROM\s/.test(l));
  return lines.slice(from + 1);
}

/** What the image's last stage copies from the build stage, as paths under /app. */
function shippedFromBuild(dockerfile: string): string[] {
  return lastStage(dockerfile)
    .flatMap((l) => {
      const m = /^COPY --from=build \/src\/(\S+) \.\/(\S+)\s*$/.exec(l);
      const [, from = '', to = ''] = m ?? [];
      if (m === null) return [];
      if (from !== to) throw new Error(`the image copies ${from} to another path, ${to}`);
      return [from];
    })
    .sort();
}

/** What scripts/image-layout.sh links from the checkout's `dist/`. */
function laidOut(script: string): string[] {
  return script
    .split('\n')
    .flatMap((l) => {
      const m = /^cp -al (dist\/\S+) "\$dir\/(\S+)"\s*$/.exec(l);
      const [, from = '', to = ''] = m ?? [];
      if (m === null) return [];
      if (from !== to) throw new Error(`the layout links ${from} to another path, ${to}`);
      return [from];
    })
    .sort();
}

describe('the image layout the bundle suites run on', () => {
  it('ships the same dist/ folders as the Dockerfile', () => {
    const image = shippedFromBuild(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const layout = laidOut(readFileSync(join(ROOT, 'scripts/image-layout.sh'), 'utf8'));
    expect(image.length).toBeGreaterThan(0);
    expect(layout).toEqual(image);
  });

  it('tells a folder shipped by one and not the other', () => {
    const dockerfile = [
      'FROM base AS build',
      'COPY --from=build /src/dist/elsewhere ./dist/elsewhere',
      'FROM base',
      'COPY --from=build /src/dist/bundle ./dist/bundle',
      'COPY --from=build /src/dist/extra ./dist/extra',
    ].join('\n');
    const script = 'cp -al dist/bundle "$dir/dist/bundle"\ncp -al node_modules "$dir/node_modules"';
    expect(shippedFromBuild(dockerfile)).toEqual(['dist/bundle', 'dist/extra']);
    expect(laidOut(script)).toEqual(['dist/bundle']);
  });
});
