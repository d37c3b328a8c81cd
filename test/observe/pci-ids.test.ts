import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPciIds, parsePciIds } from '../../src/observe/pci-ids.js';

const SAMPLE = `#
#	List of PCI ID's
#
10de  NVIDIA Corporation
	1aef  GA102 High Definition Audio Controller
	2204  GA102 [GeForce RTX 3090]
		1043 87b5  ROG Strix RTX 3090
# a comment inside a vendor block
	2206  GA102 [GeForce RTX 3080]
10df  Emulex Corporation
8086  Intel Corporation
	10d3  82574L Gigabit Network Connection
C 03  Display controller
	00  VGA compatible controller
`;

const ids = suite('pci.ids');

ids('vendor and device names, lspci style', () => {
  const db = parsePciIds(SAMPLE);
  assert.is(db.name('10de'), 'NVIDIA Corporation');
  assert.is(db.name('10DE', '2204'), 'NVIDIA Corporation GA102 [GeForce RTX 3090]');
  assert.is(db.name('0x10de', '2206'), 'NVIDIA Corporation GA102 [GeForce RTX 3080]', 'past a comment line');
  assert.is(db.name('10de', '2205'), 'NVIDIA Corporation Device 2205');
  assert.is(db.name('8086', '10d3'), 'Intel Corporation 82574L Gigabit Network Connection');
  assert.is(db.name('10df', '0001'), 'Emulex Corporation Device 0001');
  assert.is(db.name('1234'), null);
  assert.is(db.name('C 03'), null);
});

ids('loadPciIds takes the first existing path, null when none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr-pciids-'));
  try {
    writeFileSync(join(dir, 'pci.ids'), SAMPLE);
    assert.is(loadPciIds([join(dir, 'missing'), join(dir, 'pci.ids')])?.name('8086'), 'Intel Corporation');
    assert.is(loadPciIds([join(dir, 'missing')]), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

ids.run();
