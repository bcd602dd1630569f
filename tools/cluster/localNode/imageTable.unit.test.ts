import { describe, expect, it } from '@jest/globals';
import { findImage, parseImageTable, referenceForms, resolveLaunch } from './imageTable.ts';
import type { Container } from './podTypes.ts';

const table = parseImageTable(
  {
    images: [
      {
        image: 'ghcr.io/breakwater-dev/breakwater',
        entrypoint: ['breakwater-runtime'],
        commands: {
          'breakwater-runtime': ['${node}', '${repo}/runtime/src/main.ts'],
          'breakwater-operator': ['${node}', '${repo}/operator/src/main.ts'],
        },
        workingDir: '${repo}',
      },
      { image: 'busybox', hostCommands: true },
      { image: 'example.com/pinned:1.0', entrypoint: ['x'], commands: { x: ['/bin/x'] } },
      { image: 'example.com/team/*', entrypoint: ['y'], commands: { y: ['/bin/y'] } },
    ],
  },
  'tools/cluster/images.json',
  { repo: '/checkout', node: '/usr/bin/node' },
);

const identity = (value: string): string => value;
const launch = (container: Partial<Container>) =>
  resolveLaunch(table, { name: 'main', ...container }, (v) => v.replace('$(PORT)', '4000'));

describe('findImage', () => {
  it.each([
    ['any tag of a repository', 'ghcr.io/breakwater-dev/breakwater:0.1.0', 0],
    ['a digest of a repository', 'ghcr.io/breakwater-dev/breakwater@sha256:abc', 0],
    ['the Docker Hub spelling of a short name', 'docker.io/library/busybox:1.36', 1],
    ['a short name without a tag', 'busybox', 1],
    ['the exact tag of a pinned entry', 'example.com/pinned:1.0', 2],
    ['a glob', 'example.com/team/tool:2', 3],
  ])('matches %s', (_name, image, index) => {
    expect(findImage(table, image)).toBe(table.entries[index]);
  });

  it.each([
    ['another tag of a pinned entry', 'example.com/pinned:2.0'],
    ['an unknown image', 'registry.example/nothing:1.0'],
  ])('does not match %s', (_name, image) => {
    expect(findImage(table, image)).toBeUndefined();
  });
});

describe('referenceForms', () => {
  it('spells a short name every way', () => {
    expect(referenceForms('busybox:1.36')).toEqual([
      'busybox:1.36',
      'busybox',
      'docker.io/library/busybox:1.36',
      'docker.io/library/busybox',
    ]);
  });
});

describe('resolveLaunch', () => {
  it('runs the image entrypoint when the container sets no command', () => {
    expect(launch({ image: 'ghcr.io/breakwater-dev/breakwater:dev' })).toMatchObject({
      ok: true,
      argv: ['/usr/bin/node', '/checkout/runtime/src/main.ts'],
    });
  });

  it('maps the container command through the image table and expands its args', () => {
    expect(
      launch({
        image: 'ghcr.io/breakwater-dev/breakwater:dev',
        command: ['breakwater-operator'],
        args: ['--port=$(PORT)'],
      }),
    ).toMatchObject({
      ok: true,
      argv: ['/usr/bin/node', '/checkout/operator/src/main.ts', '--port=4000'],
    });
  });

  it('appends args to the entrypoint when only args are given', () => {
    expect(
      launch({ image: 'ghcr.io/breakwater-dev/breakwater:dev', args: ['--verbose'] }),
    ).toMatchObject({ argv: ['/usr/bin/node', '/checkout/runtime/src/main.ts', '--verbose'] });
  });

  it('runs host commands for an image that allows them', () => {
    expect(launch({ image: 'busybox', command: ['sh', '-c', 'exit 3'] })).toMatchObject({
      ok: true,
      argv: ['sh', '-c', 'exit 3'],
    });
  });

  it('fills in the working directory placeholders', () => {
    const result = launch({ image: 'ghcr.io/breakwater-dev/breakwater' });
    expect(result.ok && result.entry.workingDir).toBe('/checkout');
  });

  it('reports an unknown image as ErrImagePull, naming the table', () => {
    expect(launch({ image: 'registry.example/nothing:1.0' })).toEqual({
      ok: false,
      reason: 'ErrImagePull',
      message:
        'image registry.example/nothing:1.0 has no local command in tools/cluster/images.json',
    });
  });

  it('reports a command the image does not know, listing those it does', () => {
    const result = resolveLaunch(
      table,
      { name: 'main', image: 'ghcr.io/breakwater-dev/breakwater', command: ['bash'] },
      identity,
    );
    expect(result).toMatchObject({ ok: false, reason: 'CreateContainerError' });
    expect(!result.ok && result.message).toContain(
      'known: breakwater-runtime, breakwater-operator',
    );
  });
});

describe('parseImageTable', () => {
  it.each([
    ['a table without images', {}, 'top level must be an object with an "images" list'],
    ['an entry without image', { images: [{}] }, 'images[0].image must be a non-empty string'],
    [
      'a command that is not a list',
      { images: [{ image: 'x', commands: { run: 'node x.js' } }] },
      'images[0].commands.run must be a list of strings',
    ],
    [
      'hostCommands that is not a boolean',
      { images: [{ image: 'x', hostCommands: 'yes' }] },
      'images[0].hostCommands must be true or false',
    ],
  ])('rejects %s, naming the field', (_name, json, message) => {
    expect(() => parseImageTable(json, 'images.json', {})).toThrow(`images.json: ${message}`);
  });
});
