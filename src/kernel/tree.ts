// Materialise a kernel model as a real directory tree shaped like /sys: device directories under
// devices/, relative symlinks from bus/ and kernel/iommu_groups/ into them, driver directories with
// bind/unbind, module/ and devicetree nodes. Used for FsSysfsPort tests, example hosts and
// benchmarks, so it writes with plain sync calls and creates each directory once.

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSES } from '../domain/types.js';
import type { KernelModel } from './model.js';
import { mdevDrivers, mdevLinks, mdevNodes } from './mdev-view.js';
import { busFiles, compatibleFile, devicePath, ofNodePath, renderDevice, renderDriver, type NodeView } from './view.js';

export function writeSysfsTree(model: KernelModel, dir: string): void {
  const s = model.state;
  const made = new Set<string>();
  const mkdir = (rel: string): void => {
    if (made.has(rel)) return;
    mkdirSync(join(dir, rel), { recursive: true });
    made.add(rel);
  };
  const writeNode = (view: NodeView): void => {
    mkdir(view.path);
    for (const [name, content] of view.files) writeFileSync(join(dir, view.path, name), content ?? '');
    for (const [name, target] of view.links) symlinkSync(target, join(dir, view.path, name));
  };

  for (const bus of BUSES) {
    mkdir(`bus/${bus}/devices`);
    mkdir(`bus/${bus}/drivers`);
    for (const [name, content] of busFiles(s, bus)) writeFileSync(join(dir, 'bus', bus, name), content ?? '');
  }
  // Parents before children: a PF's or bridge's directory holds its VFs' and children's.
  const devices = [...s.devices.values()].map((dev) => ({ dev, path: devicePath(s, dev) }));
  devices.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  for (const { dev } of devices) {
    const view = renderDevice(s, dev);
    writeNode(view);
    symlinkSync(`../../../${view.path}`, join(dir, 'bus', dev.bus, 'devices', dev.name));
    if (dev.compatible?.length) {
      const node = ofNodePath(dev);
      mkdir(node);
      writeFileSync(join(dir, node, 'compatible'), compatibleFile(dev.compatible));
    }
  }
  for (const drv of s.registered) writeNode(renderDriver(s, drv));
  mkdir('kernel/iommu_groups');
  for (const { dev, path } of devices) {
    if (dev.group === null) continue;
    mkdir(`kernel/iommu_groups/${dev.group}/devices`);
    symlinkSync(`../../../../${path}`, join(dir, 'kernel/iommu_groups', dev.group, 'devices', dev.name));
  }
  // Mediated devices: parents' type directories and the mdevs beside them, then the links to them.
  for (const node of mdevNodes(s)) {
    writeNode(node);
    for (const sub of node.dirs) mkdir(`${node.path}/${sub}`);
  }
  if (s.mdevParents.size > 0 || s.mdevs.size > 0) {
    mkdir('class/mdev_bus');
    mkdir('bus/mdev/devices');
    for (const drv of mdevDrivers(s)) mkdir(`bus/mdev/drivers/${drv}`);
  }
  for (const [path, target] of mdevLinks(s)) {
    mkdir(path.slice(0, path.lastIndexOf('/')));
    symlinkSync(target, join(dir, path));
  }
  mkdir('module');
  // The kernel's module directories are never empty; a file in each also lets git keep the
  // bundled example trees whole (it drops empty directories).
  for (const m of model.loadedModules()) {
    mkdir(`module/${m}`);
    writeFileSync(join(dir, 'module', m, 'initstate'), 'live\n');
  }
}
