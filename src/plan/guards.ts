// The in-use guards (design.md "Safety by default"): a planned change that would pull a device out
// from under its users is blocked, unless `force: true` on its rule or `--force` overrides it, and
// then the plan says what was forced past which guard. Pure: the facts come with the Host
// (observe/usage.ts); a saved host snapshot carries them, so an offline plan refuses the same way.

import { isVfioDriver } from '../domain/names.js';
import type { Blocked, Change, Device, DeviceKey, Host, Notice, Rule, UsageFact, UsageKind } from '../domain/types.js';
import { ruleLabel } from '../desire/resolve.js';

/** One planned change, with what it does to the device and to its VFs. */
export interface GuardSubject {
  device: Device;
  change: Change;
  /** The driver the plan unbinds the device from, or null. */
  unbinds: string | null;
  /** VFs the plan destroys (the PF leaves its driver, or sriov_numvfs goes down), and how. */
  destroysVfs: { vfs: DeviceKey[]; how: string } | null;
  /** The rule behind the change, for its `force`; absent for prune. */
  rule?: Rule;
}

export interface GuardOutcome {
  blocked: Blocked[];
  /** One per forced change: what was forced past which guard. */
  warnings: Notice[];
  /** Devices whose change went ahead only because of force. */
  forced: DeviceKey[];
}

const REMEDY: Record<UsageKind, string> = {
  mount: 'unmount those file systems',
  swap: 'swapoff it',
  holder: 'stop what uses the volume or array, then deactivate it (vgchange -an, dmsetup remove, mdadm --stop)',
  netif: 'move the addresses and routes to another interface, or take the interface down (ip link set DEV down)',
  'boot-vga': 'run the host from another display device, or accept that the console is gone until reboot',
  fbcon: 'detach the console from the framebuffer (write 0 to /sys/class/vtconsole/vtconN/bind)',
  'vfio-open': 'shut down the VM (or stop the process) holding it',
};

const BOOT_VGA: UsageFact = {
  kind: 'boot-vga',
  detail: 'the boot VGA device, which the firmware console draws on (given to VFIO, the console stays dead until reboot)',
};

export function inUseGuards(host: Host, subjects: GuardSubject[], globalForce: boolean): GuardOutcome {
  const out: GuardOutcome = { blocked: [], warnings: [], forced: [] };
  // A copied sysfs tree carries no /proc or network facts: say so rather than look checked.
  if (host.usage === undefined && subjects.some((s) => s.unbinds !== null || s.destroysVfs !== null)) {
    out.warnings.push({
      message:
        'in-use guards could not check mounts, swap, network interfaces or open VFIO devices (no usage facts for this sysfs root); only boot VGA was checked',
    });
  }
  const byKey = new Map(host.devices.map((d) => [d.key, d]));
  for (const s of subjects) {
    const findings: { facts: UsageFact[]; message: string }[] = [];
    const own = factsOf(host, s.device).filter((f) => disrupts(f, s));
    if (own.length > 0) findings.push({ facts: own, message: `${s.device.name} is in use: ${details(own)} (${ownEffect(s)})` });
    for (const vf of s.destroysVfs?.vfs ?? []) {
      const facts = host.usage?.[vf] ?? [];
      const name = byKey.get(vf)?.name ?? vf;
      if (facts.length > 0) findings.push({ facts, message: `${name}, a VF of ${s.device.name}, is in use: ${details(facts)} (${s.destroysVfs!.how}, which destroys the VF)` });
    }
    if (findings.length === 0) continue;
    const message = findings.map((f) => f.message).join('; ');
    const kinds = [...new Set(findings.flatMap((f) => f.facts.map((x) => x.kind)))];
    const ruleForce = s.rule?.force === true;
    if (ruleForce || globalForce) {
      out.forced.push(s.device.key);
      const by = ruleForce ? `${ruleLabel(s.rule!)} sets force: true` : '--force';
      out.warnings.push(withRule({ message: `forced past the in-use guard (${kinds.join(', ')}): ${message}; ${by}`, device: s.device.key }, s.change));
      continue;
    }
    const overrides = s.rule ? `set force: true on ${ruleLabel(s.rule)}, or pass --force` : 'pass --force';
    out.blocked.push(
      withRule({ code: 'in-use', message, device: s.device.key, fix: `${kinds.map((k) => REMEDY[k]).join('; ')}; or ${overrides}` }, s.change),
    );
  }
  return out;
}

/** The host's facts for the device, plus boot VGA, which the device itself shows. */
function factsOf(host: Host, device: Device): UsageFact[] {
  return [...(device.bootVga ? [BOOT_VGA] : []), ...(host.usage?.[device.key] ?? [])];
}

/**
 * Whether the change hurts what the fact describes. Everything is hurt by an unbind; the boot VGA
 * also by being bound to VFIO from unbound (that evicts efifb/simpledrm on 6.0+, kernel-abi.md
 * section 8), and not by leaving a VFIO driver, which has no console left to lose.
 */
function disrupts(fact: UsageFact, s: GuardSubject): boolean {
  if (fact.kind !== 'boot-vga') return s.unbinds !== null;
  if (s.unbinds !== null) return !isVfioDriver(s.unbinds);
  return isVfioDriver(s.change.after.driver ?? null);
}

function ownEffect(s: GuardSubject): string {
  return s.unbinds !== null ? `the plan unbinds it from ${s.unbinds}` : `the plan binds it to ${s.change.after.driver}`;
}

function details(facts: UsageFact[]): string {
  return facts.map((f) => f.detail).join('; ');
}

function withRule<T extends Notice>(n: T, change: Change): T {
  return change.rule ? { ...n, rule: change.rule } : n;
}
