import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileSelector, matches } from '../../src/desire/match.js';
import type { Device, Selector } from '../../src/domain/types.js';
import { host, pci, platform, sriov } from './hosts.js';

const s = suite('desire/match');

const gpu = pci('0000:01:00.0', { vendor: '10de', device: '2204', subsystemVendor: '1462', subsystemDevice: '3881', class: '030000', iommuGroup: '12' });
const audio = pci('0000:01:00.1', { vendor: '10de', device: '1aef', class: '040300', iommuGroup: '12' });
const nic = pci('0001:0a:00.3', { vendor: '8086', device: '1572', class: '020000', iommuGroup: '30' });
const dma = platform('e0700000.dma', ['arm,pl330', 'arm,primecell']);
const [pf, vf0, vf1] = sriov('0000:03:00.0', 8, ['0000:03:02.0', '0000:03:02.1']) as [Device, Device, Device];
const h = host([gpu, audio, nic, dma, pf, vf0, vf1]);

/** Names of the host's devices that the selector picks. */
const picks = (sel: Selector) => {
  const m = compileSelector(sel);
  return h.devices.filter((d) => m(d, h)).map((d) => d.name);
};

s('address: exact, short form (domain 0000) and any case', () => {
  assert.equal(picks({ address: '0000:01:00.0' }), ['0000:01:00.0']);
  assert.equal(picks({ address: '01:00.0' }), ['0000:01:00.0']);
  assert.equal(picks({ address: '0001:0A:00.3' }), ['0001:0a:00.3']);
  assert.equal(picks({ address: '0a:00.3' }), [], 'short form is domain 0000 only');
});

s('address globs work per field', () => {
  assert.equal(picks({ address: '0000:01:00.*' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ address: '01:00.*' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ address: '*:0a:*.*' }), ['0001:0a:00.3']);
  assert.equal(picks({ address: '0000:03:02.?' }), ['0000:03:02.0', '0000:03:02.1']);
  assert.equal(picks({ address: '0000:0?:00.0' }), ['0000:01:00.0', '0000:03:00.0']);
  assert.equal(picks({ address: '01:*.1' }), ['0000:01:00.1']);
});

s('a short glob stays in domain 0000; `*` stays within its field', () => {
  assert.equal(picks({ address: '*:00.0' }), ['0000:01:00.0', '0000:03:00.0']);
  assert.equal(picks({ address: '*:00.3' }), [], '0001:0a:00.3 is not in domain 0000');
  assert.equal(picks({ address: '*:*:00.3' }), ['0001:0a:00.3']);
  assert.equal(picks({ address: '0000:*:02.*' }), ['0000:03:02.0', '0000:03:02.1']);
});

s('address never matches a platform device', () => {
  const weird = platform('0000:01:00.0', []);
  assert.not.ok(matches({ address: '0000:01:00.0' }, weird, h));
});

s('ids compare without case or 0x', () => {
  assert.equal(picks({ vendor: '10DE' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ vendor: '0x10de', device: '0X2204' }), ['0000:01:00.0']);
  assert.equal(picks({ subsystemVendor: '1462', subsystemDevice: '3881' }), ['0000:01:00.0']);
  assert.equal(picks({ subsystemVendor: '1463' }), []);
});

s('class is a prefix of the 6-digit code', () => {
  assert.equal(picks({ class: '03' }), ['0000:01:00.0']);
  assert.equal(picks({ class: '0403' }), ['0000:01:00.1']);
  assert.equal(picks({ class: '0x040300' }), ['0000:01:00.1']);
  assert.equal(picks({ class: '0300', vendor: '8086' }), []);
  assert.not.ok(matches({ class: '03' }, dma, h), 'a device without a class matches no class');
});

s('iommuGroup compares as a number', () => {
  assert.equal(picks({ iommuGroup: '12' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ iommuGroup: '012' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ iommuGroup: '1' }), []);
});

s('bus picks one bus', () => {
  assert.equal(picks({ bus: 'platform' }), ['e0700000.dma']);
  assert.equal(picks({ bus: 'pci', vendor: '8086', device: '1572' }), ['0001:0a:00.3']);
});

s('name is a glob over the kernel name on any bus', () => {
  assert.equal(picks({ name: 'e07*.dma' }), ['e0700000.dma']);
  assert.equal(picks({ name: '0000:01:00.?' }), ['0000:01:00.0', '0000:01:00.1']);
  assert.equal(picks({ name: 'e0700000.dm' }), [], 'the whole name must match');
  assert.equal(picks({ name: 'e0700000+dma' }), [], 'regex characters are literal');
});

s('compatible matches any of a platform device\'s strings', () => {
  assert.equal(picks({ compatible: 'arm,pl330' }), ['e0700000.dma']);
  assert.equal(picks({ compatible: 'arm,primecell' }), ['e0700000.dma']);
  assert.equal(picks({ compatible: 'arm,pl33' }), []);
  assert.not.ok(matches({ compatible: 'arm,pl330' }, pci('0000:05:00.0', { compatible: ['arm,pl330'] }), h), 'platform bus only');
});

s('pf selects the VFs of that PF, not the PF itself', () => {
  assert.equal(picks({ pf: '0000:03:00.0' }), ['0000:03:02.0', '0000:03:02.1']);
  assert.equal(picks({ pf: '03:00.*' }), ['0000:03:02.0', '0000:03:02.1']);
  assert.equal(picks({ pf: '03:00.0', address: '03:02.1' }), ['0000:03:02.1']);
  assert.equal(picks({ pf: '0000:01:00.0' }), []);
});

s('a VF whose PF was not observed matches no pf selector', () => {
  const orphan = pci('0000:07:02.0', { physfn: 'pci/0000:07:00.0' });
  assert.not.ok(matches({ pf: '0000:07:00.0' }, orphan, host([orphan])));
  assert.ok(matches({ pf: '0000:07:00.0' }, orphan, host([orphan, pci('0000:07:00.0')])));
});

s('every key must match (AND)', () => {
  assert.equal(picks({ vendor: '10de', class: '04' }), ['0000:01:00.1']);
  assert.equal(picks({ vendor: '10de', iommuGroup: '30' }), []);
  assert.equal(picks({ address: '01:00.0', bus: 'platform' }), []);
});

s.run();
