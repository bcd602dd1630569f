import { describe, expect, it } from '@jest/globals';
import { parseOptions } from './options.ts';

describe('parseOptions', () => {
  it('reads the arguments the cluster CLI passes', () => {
    const options = parseOptions(
      [
        '--kubeconfig',
        '.breakwater/kubeconfig',
        '--state-dir',
        '.breakwater/localnode',
        '--images',
        'tools/cluster/images.json',
      ],
      '/checkout',
    );
    expect(options).toMatchObject({
      kubeconfig: '/checkout/.breakwater/kubeconfig',
      stateDir: '/checkout/.breakwater/localnode',
      imagesFile: '/checkout/tools/cluster/images.json',
      nodeName: 'local-node',
      restartBackoffBaseMs: 10_000,
      secretVolumeSyncMs: 5_000,
    });
  });

  it('accepts --flag=value', () => {
    const options = parseOptions(['--kubeconfig=/k', '--restart-backoff-base-ms=200'], '/x');
    expect(options.restartBackoffBaseMs).toBe(200);
  });

  it('finds the image table in the checkout when not told', () => {
    const options = parseOptions(['--kubeconfig=/k', '--repo=/checkout'], '/elsewhere');
    expect(options.imagesFile).toBe('/checkout/tools/cluster/images.json');
  });

  it.each([
    ['rejects an unknown flag', ['--kubeconfig=/k', '--bogus=1'], /unknown argument --bogus/],
    ['requires a kubeconfig', ['--state-dir=/s'], /--kubeconfig is required/],
    ['rejects a flag without a value', ['--kubeconfig'], /--kubeconfig needs a value/],
    ['rejects a pod IP that is not an address', ['--kubeconfig=/k', '--pod-ip=home'], /--pod-ip/],
    [
      'rejects a back-off that is not a number',
      ['--kubeconfig=/k', '--restart-backoff-base-ms=soon'],
      /must be a positive integer/,
    ],
    [
      'rejects a Secret volume sync of zero',
      ['--kubeconfig=/k', '--secret-volume-sync-ms=0'],
      /--secret-volume-sync-ms must be a positive integer, got 0/,
    ],
  ])('%s', (_name, argv, error) => {
    expect(() => parseOptions(argv, '/x')).toThrow(error);
  });
});
