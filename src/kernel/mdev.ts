// What the kernel does on the mdev attributes (kernel-abi.md section 7, drivers/vfio/mdev/): a
// UUID written to a type's `create` makes an mdev (EINVAL for a bad UUID, EEXIST for one in use,
// EUSERS when no instance is left), `1` to its `remove` takes it away again (blocking while a VFIO
// user holds it), and a parent that leaves its driver takes its mdevs along.

import type { Outcome } from './faults.js';
import type { KernelState, KMdev, KMdevParent, KMdevType } from './state.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class MdevOps {
  constructor(private readonly s: KernelState) {}

  /** mdev_device_create: uuid_parse wants exactly 36 characters (one trailing newline allowed). */
  create(parent: KMdevParent, type: KMdevType, value: string): Outcome {
    const text = value.endsWith('\n') ? value.slice(0, -1) : value;
    if (text.length !== 36 || !UUID.test(text)) return { errno: 'EINVAL' };
    const uuid = text.toLowerCase();
    if (this.s.mdevs.has(uuid)) return { errno: 'EEXIST' };
    if (this.s.mdevAvailable(parent, type) <= 0) return { errno: 'EUSERS' };
    this.add(parent, type.id, uuid);
    return 'ok';
  }

  /** Adds an mdev bound to its parent's mdev driver, in an IOMMU group of its own (VFIO's emulated one). */
  add(parent: KMdevParent, type: string, uuid: string, attrs: Map<string, string> = new Map()): KMdev {
    const mdev: KMdev = { uuid, parent, type, group: this.s.freshGroup(), driver: parent.mdevDriver, attrs };
    this.s.mdevs.set(uuid, mdev);
    this.s.changed();
    return mdev;
  }

  /** remove_store: kstrtoul, and only a nonzero value removes; a VFIO user holding it blocks the write. */
  remove(mdev: KMdev, value: string): Outcome {
    const t = value.endsWith('\n') ? value.slice(0, -1) : value;
    if (!/^(0[xX][0-9a-fA-F]+|\d+)$/.test(t)) return { errno: 'EINVAL' };
    if (Number(t) === 0) return 'ok';
    const gone = (): Outcome => {
      this.s.mdevs.delete(mdev.uuid);
      this.s.changed();
      return 'ok';
    };
    return this.s.held.has(mdev.group) ? { until: mdev.group, then: gone } : gone();
  }

  /** A vendor attribute: stored as written, up to the first newline (a sysfs store sees one line). */
  storeAttr(mdev: KMdev, name: string, value: string): Outcome {
    mdev.attrs.set(name, value.split('\n')[0]!);
    this.s.changed();
    return 'ok';
  }

  /** mdev_unregister_parent: the parent's driver goes, and every mdev on it with it. */
  parentGone(parent: KMdevParent): void {
    for (const m of [...this.s.mdevs.values()]) if (m.parent === parent) this.s.mdevs.delete(m.uuid);
    this.s.changed();
  }
}
