import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMountinfo, parseSwaps } from '../../src/observe/procfs.js';

const s = suite('procfs parsers');

s('mountinfo: device number, mount point, type and source; optional fields skipped', () => {
  const text = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
    '36 27 0:33 / /mnt/my\\040share rw shared:5 master:1 - 9p hostshare rw,trans=virtio',
    'garbage line',
    '',
  ].join('\n');
  assert.equal(parseMountinfo(text), [
    { devno: '254:0', mountPoint: '/', fstype: 'ext4', source: '/dev/vda' },
    { devno: '0:33', mountPoint: '/mnt/my share', fstype: '9p', source: 'hostshare' },
  ]);
});

s('swaps: file names after the header, escapes undone', () => {
  const text = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n/swap\\040file file 1024 0 -3\n';
  assert.equal(parseSwaps(text), ['/dev/dm-1', '/swap file']);
});

s('an empty swap list (just the header) has no swap', () => {
  assert.equal(parseSwaps('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'), []);
});

s.run();
