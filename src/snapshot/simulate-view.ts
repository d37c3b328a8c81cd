// The simulation report as a reviewer reads it: how the simulated apply ended, where each touched
// device ends up, each touched IOMMU group's VFIO verdict, and what the model could not know.

import type { Palette } from '../cli/color.js';
import type { SimulationReport } from './simulate.js';

const OUTCOME: Record<SimulationReport['outcome'], string> = {
  applied: 'every step succeeded and verified',
  noop: 'nothing to do',
  'rolled-back': 'a step failed and everything was rolled back',
  'rollback-failed': 'a step failed and the rollback did not complete',
};

const binding = (driver: string | null, override: string | null): string =>
  `${driver ?? '(unbound)'}${override === null ? '' : ` [override ${override}]`}`;

export function renderSimulation(r: SimulationReport, source: string, p: Palette): string {
  const out = [p.bold(`Simulated apply on a kernel model of ${source}: ${OUTCOME[r.outcome]}.`)];
  if (r.devices.length > 0) {
    out.push('', 'Predicted end state:');
    const width = Math.max(...r.devices.map((d) => d.address.length));
    for (const d of r.devices) {
      const mark = d.as_planned ? ' ' : p.red('!');
      const move = `${binding(d.before.driver, d.before.override)} -> ${binding(d.after.driver, d.after.override)}`;
      out.push(`${mark} ${d.address.padEnd(width)}  ${move}${d.as_planned ? '' : p.red(`  (wanted ${d.target})`)}${d.note ? `  ${p.dim(d.note)}` : ''}`);
    }
  }
  if (r.mdevs.length > 0) {
    out.push('', 'Mediated devices:', ...r.mdevs.map((m) => `  ${m.uuid}  ${m.type} on ${m.parent}: ${m.change}`));
  }
  if (r.groups.length > 0) {
    out.push('', 'IOMMU groups touched:');
    for (const g of r.groups) {
      if (g.viable && g.vfio_members.length > 0) out.push(`  group ${g.group}: ${p.green('viable for VFIO')} (${g.vfio_members.join(', ')})`);
      else if (g.viable) out.push(`  group ${g.group}: viable, no member on a VFIO driver`);
      else {
        const who = g.blockers.map((b) => `${b.address} ${b.why}`).join('; ');
        out.push(`  group ${g.group}: ${g.vfio_members.length > 0 ? p.red('NOT viable') : 'not viable'} for VFIO: ${who}`);
      }
    }
  }
  out.push('', 'Not known to the simulation:', ...r.unknowns.map((u) => `  - ${u}`));
  return out.join('\n');
}
